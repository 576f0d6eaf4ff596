"""The live logs (``jaxmadrl.logs``): each holds every measured value of a run once, across
resumes; a failing one costs one warning line; a logged run computes what an unlogged one does."""

import json
import sys

import numpy as np
import pytest
from cli_helpers import TINY_SWEEP, run_in_process
from log_readers import csv_values, expected_values, tensorboard_values, values_of_metrics
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from jaxmadrl.core.limits import SettingError
from jaxmadrl.logs import csv_rows, live, tensorboard_events, wandb_run
from jaxmadrl.study.definition import SweepDefinition

OFFLINE = {"WANDB_MODE": "offline", "WANDB_PROJECT": "jaxmadrl-tests"}
DEFINITION = SweepDefinition.from_dict(
    {"name": "study", "actor_lrs": [1e-3, 1e-1], "critic_lrs": [1e-2], "seeds": 2, "episodes": 9, "chunk": 3}
)


def _chunk(first_episode, lanes=4, episodes=3):
    """A chunk's metrics as the run hands them over: (episodes, lanes, *shape), NaN where an
    update did not happen, a per-layer metric and a boolean one."""
    rng = np.random.default_rng(first_episode)
    grad = rng.normal(size=(episodes, lanes)).astype(np.float32)
    grad[0, 1] = np.nan
    return {
        "critic_grad_norm": grad,
        "actor_grad_norm_layers": rng.normal(size=(episodes, lanes, 3)).astype(np.float32),
        "trained": rng.random((episodes, lanes)) > 0.5,
    }


CHUNKS = [(first, _chunk(first)) for first in (0, 3, 6)]


def _place(folder, episodes_done):
    recorded = [(first, metrics) for first, metrics in CHUNKS if first < episodes_done]
    return live.LogPlace(
        folder=folder,
        definition=DEFINITION,
        first_lane=0,
        lanes=tuple(DEFINITION.lanes()),
        title="run",
        recorded=lambda: iter(recorded),
    )


def _session(opener, folder, episodes_done, chunks):
    logger = opener(_place(folder, episodes_done))
    for first, metrics in chunks:
        logger.write(first, metrics)
    logger.close()


def test_tags_are_metric_names_and_components():
    series = live.tag_series(CHUNKS[0][1])
    assert sorted(series) == [
        "actor_grad_norm_layers/0",
        "actor_grad_norm_layers/1",
        "actor_grad_norm_layers/2",
        "critic_grad_norm",
        "trained",
    ]
    np.testing.assert_array_equal(series["actor_grad_norm_layers/2"], CHUNKS[0][1]["actor_grad_norm_layers"][..., 2])
    assert set(np.unique(series["trained"])) <= {0.0, 1.0}
    assert _place(None, 0).lane_names()[3] == "lane03-seed1-default-a0.1-c0.01"


def test_csv_log_holds_every_measured_value_once_across_a_resume(tmp_path):
    # The first session logs chunks 0 and 3 but is killed before chunk 3's checkpoint: the
    # resume starts at episode 3 and computes chunk 3 again, then chunk 6.
    _session(csv_rows.CsvLog, tmp_path, 0, CHUNKS[:2])
    _session(csv_rows.CsvLog, tmp_path, 3, CHUNKS[1:])
    # %.9g: the float32 values themselves (each is a float32 number of the run)
    assert csv_values(tmp_path / "metrics.csv") == {k: np.float32(v) for k, v in expected_values(CHUNKS).items()}
    assert live.kinds_found(tmp_path) == ("csv",)


def test_tensorboard_log_reads_back_as_written_across_a_resume(tmp_path):
    _session(tensorboard_events.TensorBoardLog, tmp_path, 0, CHUNKS[:2])
    _session(tensorboard_events.TensorBoardLog, tmp_path, 3, CHUNKS[1:])
    names = _place(tmp_path, 0).lane_names()
    values, hparams = tensorboard_values(tmp_path / "tensorboard", names)
    expected = {key: float(np.float32(value)) for key, value in expected_values(CHUNKS).items()}
    assert values == expected
    assert hparams[names[3]] == {"seed": 1, "variant": "default", "actor_lr": 0.1, "critic_lr": 0.01}
    top = event_accumulator.EventAccumulator(str(tmp_path / "tensorboard"))
    top.Reload()
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        top.PluginTagToContent("hparams")["_hparams_/experiment"]
    ).experiment
    assert [m.name.tag for m in experiment.metric_infos] == list(tensorboard_events.TABLE_METRICS)


class _FakeWandbRun:
    def __init__(self, calls, **settings):
        self.calls, self.settings = calls, settings
        calls.append(("init", settings))

    def log(self, row, step):
        self.calls.append(("log", step, row))

    def finish(self):
        self.calls.append(("finish",))


def test_wandb_log_continues_the_same_run_from_the_last_logged_episode(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(wandb_run.wandb, "init", lambda **settings: _FakeWandbRun(calls, **settings))
    monkeypatch.setenv("WANDB_MODE", "offline")
    _session(wandb_run.WandbLog, tmp_path, 0, CHUNKS[:2])  # killed before chunk 3's checkpoint
    _session(wandb_run.WandbLog, tmp_path, 3, CHUNKS[1:])
    inits = [call[1] for call in calls if call[0] == "init"]
    assert (
        len(inits) == 2 and inits[0]["id"] == inits[1]["id"] == json.loads((tmp_path / "wandb.json").read_text())["id"]
    )
    assert all(i["resume"] == "allow" and i["group"] == "study" and i["mode"] == "offline" for i in inits)
    steps = [call[1] for call in calls if call[0] == "log"]
    assert steps == list(range(1, 10)), "every episode once, in order"
    names = _place(tmp_path, 0).lane_names()
    logged = {
        (names.index(key.rsplit("/", 1)[1]), call[1], key.rsplit("/", 1)[0]): value
        for call in calls
        if call[0] == "log"
        for key, value in call[2].items()
    }
    assert logged == expected_values(CHUNKS)
    assert json.loads((tmp_path / "wandb.json").read_text())["episodes_logged"] == 9


class _BrokenLog:
    writes = 0

    def write(self, first_episode, metrics):
        _BrokenLog.writes += 1
        raise OSError(28, "No space left on device")

    def close(self):
        pass


def test_a_failing_log_is_one_warning_line_and_is_dropped(capsys):
    logs = live.LiveLogs({"csv": _BrokenLog()})
    logs.write(0, CHUNKS[0][1])
    logs.write(3, CHUNKS[1][1])
    logs.close()
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["warning: the csv log stopped (OSError: [Errno 28] No space left on device); the run goes on"]
    assert _BrokenLog.writes == 1 and logs.kinds == ()


def test_a_log_that_cannot_start_is_one_warning_line(tmp_path, capsys):
    (tmp_path / "logs").write_text("a file where the folder should be")
    logs = live.open_live_logs(("csv",), _place(tmp_path / "logs", 0))
    assert logs.kinds == ()
    assert capsys.readouterr().err.startswith("warning: the csv log did not start (FileExistsError")


def test_log_kinds_are_checked(monkeypatch):
    assert live.checked_kinds("csv,tensorboard,csv") == ("csv", "tensorboard")
    assert live.checked_kinds(["wandb"]) == ("wandb",)
    with pytest.raises(SettingError, match="unknown logs"):
        live.checked_kinds("csv,bogus")
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if it were not installed
    with pytest.raises(SettingError, match=r"needs the wandb package: pip install 'jaxmadrl\[log\]'"):
        live.checked_kinds("wandb")


@pytest.mark.slow  # runs a command whole
def test_a_logged_sweep_computes_what_an_unlogged_one_does_and_its_logs_hold_it(tmp_path, tiny_sweep):
    reference, _ = tiny_sweep
    out = tmp_path / "run"
    result = run_in_process("jaxmadrl.sweep", *TINY_SWEEP, "--log=csv,tensorboard,wandb", f"--out={out}", env=OFFLINE)
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    with np.load(reference / "metrics.npz") as unlogged, np.load(out / "metrics.npz") as logged:
        assert sorted(logged.files) == sorted(unlogged.files)
        metrics = {name: logged[name] for name in logged.files}
        for name in unlogged.files:
            assert unlogged[name].dtype == metrics[name].dtype
            np.testing.assert_array_equal(metrics[name], unlogged[name], err_msg=name)
    expected = values_of_metrics(metrics)
    assert csv_values(out / "logs" / "metrics.csv") == expected
    names = [f.name for f in sorted((out / "logs" / "tensorboard").iterdir()) if f.is_dir()]
    assert names == [f"lane{i:02d}-seed{i // 2}-default-a{a}-c0.01" for i, a in enumerate(["0.001", "0.1"] * 2)]
    values, hparams = tensorboard_values(out / "logs" / "tensorboard", names)
    assert values == expected
    assert hparams[names[1]] == {"seed": 0, "variant": "default", "actor_lr": 0.1, "critic_lr": 0.01}
    record = json.loads((out / "logs" / "wandb.json").read_text())
    assert record["episodes_logged"] == 60
    (offline,) = (out / "logs" / "wandb").glob(f"offline-run-*-{record['id']}")
    assert (offline / f"run-{record['id']}.wandb").stat().st_size > 0
