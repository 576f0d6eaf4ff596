"""The TensorBoard log, ``logs/tensorboard/``: one sub-run per lane (``LogPlace.lane_names``)
with every tag (``live``) as a scalar per episode and the lane's settings in the HParams
table (seed, variant, learning rates, the variant's values; eval_reward and train_reward as
its metrics), and the experiment's configuration at the top. On a resume the folder is
written anew from the run's recorded chunks. ``tensorboard --logdir RUN/logs/tensorboard``."""

from __future__ import annotations

import shutil
import socket
import time

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.hparams import summary_v2 as hparams
from tensorboard.summary.writer.record_writer import RecordWriter

from jaxmadrl.logs.live import WRITES, LogPlace, tag_series

FOLDER = WRITES["tensorboard"]
TABLE_METRICS = ("eval_reward", "train_reward")  # the HParams table's metric columns


def _event(step: int, summary: summary_pb2.Summary) -> event_pb2.Event:
    return event_pb2.Event(wall_time=time.time(), step=step, summary=summary)


def _experiment(place: LogPlace) -> summary_pb2.Summary:
    names = sorted({name for row in place.lane_hparams() for name in row})
    return hparams.hparams_config_pb(
        [hparams.HParam(name) for name in names], [hparams.Metric(tag) for tag in TABLE_METRICS]
    )


class TensorBoardLog:
    """Event files written synchronously, each opened only while a chunk is appended (no
    writer threads or open files per lane, however many lanes)."""

    def __init__(self, place: LogPlace):
        root = place.folder / FOLDER
        shutil.rmtree(root, ignore_errors=True)  # a resume writes it anew
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}"
        self._top = root / name
        self._lanes = [root / lane / name for lane in place.lane_names()]
        for path in (self._top, *self._lanes):
            path.parent.mkdir(parents=True, exist_ok=True)
            self._append(path, [event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")])
        self._append(self._top, [_event(0, _experiment(place))])
        started = time.time()
        for path, lane, values in zip(self._lanes, place.lane_names(), place.lane_hparams()):
            self._append(path, [_event(0, hparams.hparams_pb(values, trial_id=lane, start_time_secs=started))])
        for first, metrics in place.recorded():
            self.write(first, metrics)

    @staticmethod
    def _append(path, events) -> None:
        with open(path, "ab") as file:
            writer = RecordWriter(file)
            for event in events:
                writer.write(event.SerializeToString())

    def write(self, first_episode: int, metrics: dict[str, np.ndarray]) -> None:
        series = tag_series(metrics)
        n_episodes = next(iter(series.values())).shape[0]
        for lane, path in enumerate(self._lanes):
            events = []
            for episode in range(n_episodes):
                values = [
                    summary_pb2.Summary.Value(tag=tag, simple_value=float(v[episode, lane]))
                    for tag, v in series.items()
                    if not np.isnan(v[episode, lane])
                ]
                events.append(_event(first_episode + episode + 1, summary_pb2.Summary(value=values)))
            self._append(path, events)

    def close(self) -> None:
        pass
