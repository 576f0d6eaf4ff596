"""Reading the live logs of a run back, to compare them with what the run computed."""

import csv

import numpy as np
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from jaxmadrl.logs import live


def expected_values(chunks):
    """(lane, episode, tag) → value of every non-NaN value of ``chunks``."""
    expected = {}
    for first, metrics in chunks:
        for tag, values in live.tag_series(metrics).items():
            for episode, lane in zip(*np.nonzero(~np.isnan(values))):
                expected[(int(lane), first + int(episode) + 1, tag)] = float(values[episode, lane])
    return expected


def csv_values(path):
    with open(path) as file:
        rows = list(csv.DictReader(file))
    values = {(int(r["lane"]), int(r["episode"]), r["metric"]): np.float32(r["value"]) for r in rows}
    assert len(values) == len(rows), "a row appears twice"
    return values


def tensorboard_values(root, lane_names):
    values, hparams = {}, {}
    for lane, name in enumerate(lane_names):
        accumulator = event_accumulator.EventAccumulator(str(root / name), size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            events = accumulator.Scalars(tag)
            assert len({e.step for e in events}) == len(events), "a step appears twice"
            values.update({(lane, e.step, tag): e.value for e in events})
        content = accumulator.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
        hparams[name] = {
            key: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
            for key, value in start.hparams.items()
        }
    return values, hparams


def values_of_metrics(metrics):
    """``expected_values`` of a run's metrics.npz contents (each (lanes, episodes, ...)), as float32."""
    chunk = {name: np.swapaxes(values, 0, 1) for name, values in metrics.items()}
    return {key: np.float32(value) for key, value in expected_values([(0, chunk)]).items()}
