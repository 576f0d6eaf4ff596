"""`python -m jaxmadrl.train` end to end on a tiny problem, and its bad-input paths."""

import json

import numpy as np
import pytest
from cli_helpers import run_in_process, run_module

TINY_FLAGS = [
    "--n_agents=3",
    "--steps_per_episode=3",
    "--episodes=7",
    "--chunk=3",
    "--batch_size=8",
    "--replay_capacity=32",
    "--eval_every=2",
]


def run_cli(*args):
    return run_in_process("jaxmadrl.train", *args)


@pytest.mark.slow
def test_writes_a_one_lane_run_folder(tmp_path):
    """In a fresh process: GPU determinism is opted out of before XLA starts (XLA_FLAGS)."""
    out = tmp_path / "run"
    result = run_module(
        "jaxmadrl.train",
        *TINY_FLAGS,
        "--actor_lr=0.01",
        "--critic_lr=0.001",
        "--layer_norm",
        "--actor_hidden=16,8",
        "--output_activation=softsign",
        "--matmul_precision=default",
        "--nodeterministic_ops",
        "--seed=3",
        f"--out={out}",
    )
    assert result.returncode == 0, result.stderr
    assert "[3/7]" in result.stdout and "[7/7]" in result.stdout
    metrics = np.load(out / "metrics.npz")
    assert metrics["train_reward"].shape == (1, 7) and metrics["actor_max_delta"].shape == (1, 7, 3)
    assert np.all(np.isfinite(metrics["train_reward"]))
    summary = json.loads((out / "summary.json").read_text())
    definition = summary["definition"]
    assert definition["actor_lrs"] == [0.01] and definition["critic_lrs"] == [0.001]
    assert definition["n_agents"] == 3 and definition["actor_hidden"] == [16, 8]
    assert (definition["batch_size"], definition["replay_capacity"], definition["eval_every"]) == (8, 32, 2)
    assert definition["mitigations"] == {"layer_norm": 1.0, "output_activation": 1}
    [lane] = summary["lanes"]
    assert lane["seed"] == 3 and len(lane["actor_first_unchanged"]) == 3 and lane["diverged"] is False
    assert lane["last_eval_reward"] == pytest.approx(float(metrics["eval_reward"][0, -1]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no scratch folder left
    [environment] = summary["environment"]
    assert environment["matmul_precision"] == "default" and environment["deterministic_gpu_ops"] is False
    assert "--xla_gpu_deterministic_ops=false" in environment["xla_flags"].split()
    assert environment["lanes_per_call"] == 1 and set(environment["saturation_edge"]) == {"softsign"}


@pytest.mark.slow
def test_seed_n_is_the_sweeps_lane_of_seed_n(tmp_path, tiny_sweep):
    """train --seed=1 and the sweep's seed-1 lane are the same program on the same key (GPU
    determinism, opted out of here through XLA_FLAGS, changes nothing on the CPU)."""
    sweep_dir, _ = tiny_sweep
    out = tmp_path / "run"
    result = run_module(
        "jaxmadrl.train",
        "--n_agents=3",
        "--steps_per_episode=3",
        "--episodes=60",
        "--chunk=4",
        "--actor_lr=0.1",
        "--critic_lr=0.01",
        "--seed=1",
        f"--out={out}",
        xla_flags=["--xla_gpu_deterministic_ops=false"],
    )
    assert result.returncode == 0, result.stderr
    [environment] = json.loads((out / "environment.json").read_text())
    assert environment["deterministic_gpu_ops"] is False
    with np.load(out / "metrics.npz") as single, np.load(sweep_dir / "metrics.npz") as sweep:
        lane = [
            (r["seed"], r["actor_lr"]) for r in json.loads((sweep_dir / "summary.json").read_text())["lanes"]
        ].index((1, 0.1))
        for name in single.files:
            np.testing.assert_array_equal(single[name][0], sweep[name][lane], err_msg=name)


def test_resume_takes_the_settings_from_the_run(tmp_path):
    result = run_cli(f"--resume={tmp_path}", "--episodes=5")
    assert result.returncode == 2 and "--resume takes the settings from the run; drop --episodes" in result.stderr


@pytest.mark.parametrize(
    "bad",
    [
        ["--actor_lr=0"],
        ["--critic_lr=-1e-3"],
        ["--actor_lr=nan"],
        ["--critic_lr=inf"],
        ["--episodes=0"],
        ["--batch_size=64", "--replay_capacity=32"],
        ["--mode=H3"],
        ["--actor_update=random"],
        ["--episodes=many"],
        ["--no_such_flag=1"],
        ["--chunk=0"],
        ["extra"],
        ["--actor_grad_clip=0"],
        ["--output_lr_multiplier=-1"],
        ["--output_activation=relu"],
        ["--actor_hidden=64,x"],
        ["--critic_hidden=0"],
        ["--replay_capacity=5", "--batch_size=4"],
        ["--seed=-1"],
        ["--seed=4294967296"],
        ["--matmul_precision=tf32"],
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, bad):
    out = tmp_path / "run"
    result = run_cli(*bad, f"--out={out}")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())


def test_existing_output_directory_is_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = run_cli(*TINY_FLAGS, f"--out={tmp_path}")
    assert result.returncode == 2 and "already exists" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
