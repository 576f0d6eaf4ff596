"""`python -m jaxmadrl.train` end to end on a tiny problem, and its bad-input paths."""
import json

import numpy as np
import pytest
from cli_helpers import run_module

TINY_FLAGS = ["--n_agents=3", "--steps_per_episode=3", "--episodes=7", "--chunk=3", "--batch_size=8",
              "--replay_capacity=32", "--eval_every=2"]


def run_cli(*args):
    return run_module("jaxmadrl.train", *args)


def test_writes_metrics_and_summary(tmp_path):
    out = tmp_path / "run"
    result = run_cli(*TINY_FLAGS, "--actor_lr=0.01", "--critic_lr=0.001", "--layer_norm", "--actor_hidden=16,8",
                     "--output_activation=softsign", "--matmul_precision=default", "--nodeterministic_ops",
                     f"--out={out}")
    assert result.returncode == 0, result.stderr
    assert "episodes 3/7" in result.stdout and "episodes 7/7" in result.stdout
    metrics = np.load(out / "metrics.npz")
    assert metrics["train_reward"].shape == (7,) and metrics["actor_max_delta"].shape == (7, 3)
    assert np.all(np.isfinite(metrics["train_reward"]))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["actor_lr"] == 0.01 and summary["critic_lr"] == 0.001
    assert summary["config"]["env"]["n_agents"] == 3 and summary["config"]["actor_hidden"] == [16, 8]
    assert summary["layer_norm"] == 1.0 and summary["output_activation"] == 1
    assert len(summary["actor_first_unchanged"]) == 3
    assert summary["diverged"] is False
    assert summary["final_eval_reward"] == pytest.approx(float(metrics["eval_reward"][-1]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no scratch folder left
    [environment] = summary["environment"]
    assert summary["config"]["matmul_precision"] == environment["matmul_precision"] == "default"
    assert environment["deterministic_gpu_ops"] is False
    assert "--xla_gpu_deterministic_ops" not in environment["xla_flags"]
    assert environment["lanes_per_call"] == 1 and set(environment["saturation_edge"]) == {"softsign"}


@pytest.mark.parametrize("bad", [
    ["--actor_lr=0"], ["--critic_lr=-1e-3"], ["--actor_lr=nan"], ["--critic_lr=inf"], ["--episodes=0"],
    ["--batch_size=64", "--replay_capacity=32"], ["--mode=H3"], ["--actor_update=random"],
    ["--episodes=many"], ["--no_such_flag=1"], ["--chunk=0"], ["extra"], ["--actor_grad_clip=0"],
    ["--output_lr_multiplier=-1"], ["--output_activation=relu"], ["--actor_hidden=64,x"], ["--critic_hidden=0"],
    ["--replay_capacity=5", "--batch_size=4"], ["--seed=-1"], ["--seed=4294967296"], ["--matmul_precision=tf32"],
])
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
