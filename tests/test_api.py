"""The public API as a notebook uses it (the README's example, run exactly as written), one
source of config, and each metric defined once."""

import contextlib
import dataclasses
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from cli_helpers import run_in_process

import jaxmadrl
from jaxmadrl.agents import diagnostics
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.cli import common
from jaxmadrl.core.limits import SettingError
from jaxmadrl.report import plots
from jaxmadrl.study import results, settings
from jaxmadrl.study.definition import SweepDefinition

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
RESULTS = README.parent / "sweeps" / "results"


def readme_notebook_example() -> str:
    text = README.read_text()
    return re.search(r"<!-- notebook example -->\n```python\n(.*?)```", text, re.S).group(1)


@pytest.mark.slow
def test_readme_notebook_example_runs_as_written(tmp_path, capsys):
    """In this process, as a notebook's kernel would run it. Its sizes are those of
    examples/quickstart.ipynb (tests/test_examples.py), so the two run one compiled program."""
    with contextlib.chdir(tmp_path):
        exec(compile(readme_notebook_example(), "README.md", "exec"), {})
    assert "40/40 episodes" in capsys.readouterr().out
    assert (tmp_path / "grad_ratio.png").stat().st_size > 0
    run = jaxmadrl.load_run(tmp_path / "sweeps/runs/notebook")
    assert run.metrics["grad_ratio"].shape == (4, 40)
    assert [(r["seed"], r["actor_lr"]) for r in run.lanes] == [(0, 1e-3), (0, 1e-1), (1, 1e-3), (1, 1e-1)]
    assert run.select(actor_lr=1e-1) == [1, 3] and run.select(seed=1, actor_lr=1e-3) == [2]


def test_the_api_names_what_it_exports():
    assert sorted(jaxmadrl.__all__) == sorted(name for name in jaxmadrl.__all__ if hasattr(jaxmadrl, name))
    assert {"SweepDefinition", "TrainConfig", "run_sweep", "load_run", "make_train"} <= set(jaxmadrl.__all__)


# ----------------------------------------------------------------------------- one source of config


def test_every_static_setting_is_a_sweep_key_and_round_trips():
    values = {
        "name": "t",
        "actor_lrs": [1e-3],
        "critic_lrs": [1e-2],
        "eval_episodes": 2,
        "n_channels": 4,
        "epsilon_decay": 500.0,
        "harvest_j": 0.002,
        "actor_hidden": [8, 4],
        "mode": "TOBM",
    }
    definition = SweepDefinition.from_dict(values)
    assert definition.train.eval_episodes == 2 and definition.train.env.n_channels == 4
    assert definition.train.env.harvest_j == 0.002 and definition.train.actor_hidden == (8, 4)
    assert set(settings.STATIC) <= set(definition.to_dict())
    assert SweepDefinition.from_dict(definition.to_dict()) == definition
    for field in dataclasses.fields(TrainConfig):
        assert field.name in settings.STATIC or field.name in settings.NOT_DEFINITION_SETTINGS


def test_settings_are_named_and_checked_once():
    with pytest.raises(SettingError, match="harvest_j must be a number"):
        SweepDefinition.from_dict({"name": "t", "actor_lrs": [1e-3], "critic_lrs": [1e-3], "harvest_j": "x"})
    with pytest.raises(SettingError, match="dropout"):
        SweepDefinition.from_dict({"name": "t", "actor_lrs": [1e-3], "critic_lrs": [1e-3], "dropout": 0.5})
    with pytest.raises(SettingError, match="matmul_precision"):
        SweepDefinition(name="t", actor_lrs=(1e-3,), critic_lrs=(1e-3,), train=TrainConfig(matmul_precision="high"))


@pytest.mark.slow
def test_every_setting_is_a_flag_with_its_fields_help():
    result = run_in_process("jaxmadrl.sweep", "--helpfull")
    assert result.returncode == 0
    for name, setting in settings.ALL.items():
        assert f"--{name}" in result.stdout or f"--[no]{name}" in result.stdout, name
    assert common.as_sentence(settings.STATIC["eval_every"].help)[:40] in " ".join(result.stdout.split())


# ----------------------------------------------------------------------------- the API on run folders


@pytest.mark.slow
def test_run_sweep_resumes_its_own_sweep_only(tmp_path):
    definition = SweepDefinition.from_dict(
        {
            "name": "t",
            "actor_lrs": [1e-3],
            "critic_lrs": [1e-2],
            "episodes": 8,
            "n_agents": 3,
            "steps_per_episode": 3,
            "chunk": 4,  # the tiny sweep's chunk program (tests/cli_helpers.TINY_SWEEP), compiled once a session
        }
    )
    seen = []
    run = jaxmadrl.run_sweep(definition, tmp_path / "run", on_progress=seen.append)
    assert [p.episodes_done for p in seen] == [0, 4, 8] and seen[-1].lanes_all_stopped in (0, 1)
    assert run.metrics["train_reward"].shape == (1, 8) and run.lanes[0]["seed"] == 0
    again = jaxmadrl.run_sweep(None, tmp_path / "run", resume=True)  # complete: just loaded
    assert all(np.array_equal(run.metrics[k], again.metrics[k], equal_nan=True) for k in run.metrics)
    other = dataclasses.replace(definition, seeds=2)
    with pytest.raises(jaxmadrl.RunFolderError, match="another sweep"):
        jaxmadrl.run_sweep(other, tmp_path / "run", resume=True)
    with pytest.raises(jaxmadrl.RunFolderError, match="already exists"):
        jaxmadrl.run_sweep(definition, tmp_path / "run")


def test_every_committed_result_loads():
    """Every finished run under sweeps/results/ loads through load_run, one row per lane in
    every metric; a folder committed with its summary only (sweeps/results/all16-5seeds: its
    29 MB metrics.npz is not committed) is refused as unfinished."""
    folders = sorted(path.parent for path in RESULTS.rglob("summary.json"))
    assert len(folders) > 80
    for folder in folders:
        if not (folder / "metrics.npz").is_file():
            with pytest.raises(jaxmadrl.RunError, match="missing metrics.npz"):
                jaxmadrl.load_run(folder)
            continue
        run = jaxmadrl.load_run(folder)
        assert {values.shape[0] for values in run.metrics.values()} == {len(run.lanes)}, folder


def test_runs_of_the_older_format_load_under_todays_names():
    run = jaxmadrl.load_run(RESULTS / "mitigations")  # written before the metric names changed
    softsign = run.select(variant="softsign")
    assert "output_saturation" not in run.metrics and "tanh_saturation" in run.metrics
    assert not np.array_equal(run.metrics["saturation"][softsign], run.metrics["tanh_saturation"][softsign])
    assert all("last_eval_reward" in row and "final_eval_reward" not in row for row in run.lanes)
    assert [row["final_saturation"] for row in run.lanes] == run.metrics["saturation"][:, -1].tolist()


# ----------------------------------------------------------------------------- metrics defined once


def test_diverged_means_non_finite_parameters_or_losses():
    episodes = 4
    finite = {
        "trained": np.array([False, True, True, True]),
        "eval_reward": np.full(episodes, np.nan),
        "critic_loss": np.ones(episodes),
        "actor_max_delta": np.ones((episodes, 2)),
        "critic_max_delta": np.ones(episodes),
        "grad_ratio": np.array([np.nan, 0.0, np.inf, 1.0]),
        "saturation": np.zeros(episodes),
        "train_reward": np.zeros(episodes),
    }
    tracker = diagnostics.init_stop_tracker(2, 1)
    assert results.lane_summary(tracker, finite, episodes)["diverged"] is False
    for name in results.DIVERGENCE_METRICS:
        broken = {
            **finite,
            name: np.where(
                np.arange(episodes).reshape((-1,) + (1,) * (finite[name].ndim - 1)) == 2, np.nan, finite[name]
            ),
        }
        assert results.lane_summary(tracker, broken, episodes)["diverged"] is True, name


def test_reward_at_stop_averages_the_seeds_that_stopped():
    definition = SweepDefinition.from_dict(
        {"name": "t", "actor_lrs": [0.1], "critic_lrs": [0.1], "seeds": 3, "episodes": 10}
    )
    lanes = [
        {"lane": i, **lane._asdict(), "all_actors_stopped": stop}
        for i, (lane, stop) in enumerate(zip(definition.lanes(), [4, None, 6]))
    ]
    run = jaxmadrl.Run(definition=definition, lanes=lanes, metrics={})
    reward = np.arange(30, dtype=float).reshape(3, 10)
    assert plots.rewards_at_stop(run, reward) == [(3.0 + 25.0) / 2]  # seed 1 never stopped
    never = jaxmadrl.Run(
        definition=definition, lanes=[{**row, "all_actors_stopped": None} for row in lanes], metrics={}
    )
    assert np.isnan(plots.rewards_at_stop(never, reward)[0])


def test_entry_points_name_an_input_of_the_wrong_kind(tmp_path):
    definition = {"name": "d", "actor_lrs": [1e-3], "critic_lrs": [1e-3]}
    with pytest.raises(SettingError, match="definition must be a SweepDefinition .* got dict"):
        jaxmadrl.run_sweep(definition, tmp_path / "run")
    with pytest.raises(SettingError, match="out_dir must be a path, got int"):
        jaxmadrl.run_sweep(SweepDefinition.from_dict(definition), 3)
    with pytest.raises(SettingError, match="config must be a TrainConfig, got NoneType"):
        jaxmadrl.make_train(None)
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(jaxmadrl.RunError, match="is a file, not a run folder"):
        jaxmadrl.load_run(a_file)
    with pytest.raises(jaxmadrl.RunError, match="takes the path of a run folder, got dict"):
        jaxmadrl.load_run({})
    assert not (tmp_path / "run").exists()


def test_importing_the_plots_leaves_the_matplotlib_backend_to_the_caller():
    code = (
        "import matplotlib; matplotlib.use('svg'); import jaxmadrl.report.catalogue, jaxmadrl.report.over_time; "
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
