"""`python -m jaxmadrl.sweep`: its results and table, the environment record, resume after SIGKILL
or with other lane blocks, several devices, bad input, variants as one program."""

import json

import jax
import numpy as np
import pytest
from cli_helpers import TINY_SWEEP, killed_after_first_checkpoint, run_in_process, run_module
from log_readers import csv_values, tensorboard_values, values_of_metrics
from programs import assert_programs_agree

from jaxmadrl.store import names

pytestmark = pytest.mark.slow  # every test here runs a command whole

# --- the command line -----------------------------------------------------------------


def sweep_cli(*args, devices=1, wait=True):
    """The command in this process, or in its own where it needs other devices or runs beside the test."""
    if devices == 1 and wait:
        return run_in_process("jaxmadrl.sweep", *args)
    return run_module("jaxmadrl.sweep", *args, devices=devices, wait=wait)


def load_metrics(run_dir):
    with np.load(run_dir / "metrics.npz") as saved:
        return dict(saved)


def test_cli_writes_results_and_table(tiny_sweep):
    out, result = tiny_sweep
    assert "[60/60]" in result.stdout and "config-episodes/s" in result.stdout and "ETA" in result.stdout
    assert "4 lanes (1 variant(s)) as 4 call(s) of 1 lane(s)" in result.stdout  # the CPU default
    assert "actor LR \\ critic LR" in result.stdout
    metrics = load_metrics(out)
    assert metrics["train_reward"].shape == (4, 60) and metrics["actor_max_delta"].shape == (4, 60, 3)
    summary = json.loads((out / "summary.json").read_text())
    assert [(r["seed"], r["actor_lr"], r["critic_lr"]) for r in summary["lanes"]] == [
        (0, 1e-3, 1e-2),
        (0, 1e-1, 1e-2),
        (1, 1e-3, 1e-2),
        (1, 1e-1, 1e-2),
    ]
    assert {r["variant"] for r in summary["lanes"]} == {"default"}
    assert all(len(r["actor_first_unchanged"]) == 3 for r in summary["lanes"])
    header = (out / "summary.csv").read_text().splitlines()[0]
    assert header.startswith("seed,variant,actor_lr,critic_lr,all_actors_stopped,critic_stopped")
    assert (out / "table.txt").read_text().startswith("actor LR")
    # The checkpoint and the per-chunk metrics are deleted once the results are written; the
    # trained parameters stay.
    assert sorted(p.name for p in out.iterdir()) == [
        "environment.json",
        "metrics.npz",
        "params.npz",
        "run.lock",
        "summary.csv",
        "summary.json",
        "sweep.json",
        "table.txt",
    ]
    assert "final state kept" not in result.stdout


def test_every_run_records_its_environment(tiny_sweep):
    out, result = tiny_sweep
    [record] = json.loads((out / "summary.json").read_text())["environment"]
    assert json.loads((out / "environment.json").read_text()) == [record]
    assert record["first_episode"] == 0 and record["backend"] == jax.default_backend()
    assert record["lanes_per_call"] == 1 and record["workers"] >= 1 and record["devices_per_call"] == 1
    assert record["matmul_precision"] == "highest" and record["deterministic_gpu_ops"] is True
    assert "--xla_gpu_deterministic_ops=true" in record["xla_flags"].split()
    core = {"python", "jax", "jaxlib", "flax", "optax", "chex", "numpy", "absl-py", "matplotlib"}
    installed = {"gymnax", "jaxmarl"}  # the test extra's environment packages (brax is not in it)
    assert set(record["versions"]) == core | installed | ({"brax"} & set(record["versions"]))
    assert record["versions"]["jax"] == jax.__version__ and record["cpu"]
    assert record["commit"] is None or len(record["commit"].split("+")[0]) == 40
    lower, upper = record["saturation_edge"]["tanh"]
    assert 7.5 < upper < 9.5 and lower == -upper
    assert f"tanh derivative 0 from |z| = {upper:.6g}" in result.stdout


def test_resume_keeps_the_recorded_lane_width(tmp_path):
    """A run of 2-lane calls on 2 devices, killed and resumed with no flags: the recorded
    width and devices per call are kept, and the record is extended."""
    out = tmp_path / "run"
    killed_after_first_checkpoint("jaxmadrl.sweep", out, *TINY_SWEEP, "--lanes_per_call=2", devices=2)
    result = sweep_cli(f"--resume={out}", devices=2)
    assert result.returncode == 0, result.stderr
    assert "as 2 call(s) of 2 lane(s)" in result.stdout and "on 2 device(s)" in result.stdout
    assert "will not equal" not in result.stdout
    first, second = json.loads((out / "summary.json").read_text())["environment"]
    assert first["first_episode"] == 0 and second["first_episode"] > 0
    assert first["lanes_per_call"] == second["lanes_per_call"] == 2
    assert first["devices_per_call"] == second["devices_per_call"] == 2


def test_resume_after_sigkill_is_bit_identical_and_continues_the_logs(tmp_path, tiny_sweep):
    reference, _ = tiny_sweep
    out = tmp_path / "run"
    killed_after_first_checkpoint("jaxmadrl.sweep", out, *TINY_SWEEP, "--log=csv,tensorboard")
    result = sweep_cli(f"--resume={out}")  # the run's logs, without being named again
    assert result.returncode == 0, result.stderr
    assert "starting at episode 0" not in result.stdout
    resumed, whole = load_metrics(out), load_metrics(reference)
    for name in whole:
        np.testing.assert_array_equal(resumed[name], whole[name], err_msg=name)
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    # every episode once in each log, whatever the kill left in it
    expected = values_of_metrics(resumed)
    assert csv_values(out / "logs" / "metrics.csv") == expected
    lanes = sorted(f.name for f in (out / "logs" / "tensorboard").iterdir() if f.is_dir())
    assert tensorboard_values(out / "logs" / "tensorboard", lanes)[0] == expected


def test_resume_with_other_lane_blocks(tmp_path, tiny_sweep):
    reference, _ = tiny_sweep
    out = tmp_path / "run"
    index = out / "checkpoint" / names.CHECKPOINT_INDEX
    killed_after_first_checkpoint("jaxmadrl.sweep", out, *TINY_SWEEP)
    # 2-lane calls: the tiny sweep's 2-lane program (tests/study/test_grid.py), compiled once a session
    result = sweep_cli(f"--resume={out}", "--lanes_per_call=2", "--workers=1", "--keep_checkpoint")
    assert result.returncode == 0, result.stderr
    assert "as 2 call(s) of 2 lane(s)" in result.stdout
    resumed_at = int(result.stdout.split("starting at episode ")[1].split()[0])
    assert (
        f"differs from the run's record in lanes_per_call 1 → 2: results from episode {resumed_at} on will "
        "not equal an uninterrupted run"
    ) in result.stdout
    done = json.loads(index.read_text())["episodes_done"]
    assert done == 60 and sorted(p.name for p in index.parent.iterdir()) == [
        names.CHECKPOINT_INDEX,
        names.block_file(0, 60),
        names.block_file(2, 60),
    ]
    resumed, whole = load_metrics(out), load_metrics(reference)
    assert 0 < resumed_at <= 60
    for name in whole:
        np.testing.assert_array_equal(resumed[name][:, :resumed_at], whole[name][:, :resumed_at], err_msg=name)
    # After the resume the lanes run in a program of another width (tests/programs.py).
    assert_programs_agree(resumed, whole, episode_axis=1, first_episode=resumed_at)


@pytest.mark.parametrize(
    "bad",
    [
        ["--actor_lrs=0,1e-3"],
        ["--critic_lrs=-1"],
        ["--actor_lrs=fast"],
        ["--mode=H3"],
        ["--seeds=0"],
        ["--episodes=0"],
        ["--chunk=0"],
        ["--lanes_per_call=0"],
        ["--lanes_per_call=3"],
        ["--workers=0"],
        ["--all-16", "--sweep=all16"],
        ["--sweep=nonexistent"],
        ["--devices=0"],
        ["--bogus"],
        ["positional"],
        ["--critic_grad_clip=-1"],
        ["--actor_hidden=a"],
        ["--sweep=mitigations", "--variants=baseline,nope"],
        ["--variants=baseline"],
        ["--log=csv,bogus"],
    ],
)
def test_bad_input_is_one_line_exit_2_and_creates_nothing(tmp_path, bad):
    # Tiny settings first (later flags win), so that input wrongly accepted runs briefly.
    result = sweep_cli("--n_agents=3", "--steps_per_episode=3", "--episodes=2", *bad, f"--out={tmp_path / 'run'}")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error:") and len(result.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_out_must_be_new_and_resume_must_match(tmp_path, tiny_sweep):
    reference, _ = tiny_sweep
    before = sorted(p.name for p in reference.iterdir())
    assert sweep_cli(*TINY_SWEEP, f"--out={reference}").returncode == 2
    not_a_run = sweep_cli(f"--resume={tmp_path}")
    assert not_a_run.returncode == 2 and "not a sweep run" in not_a_run.stderr
    other = sweep_cli(f"--resume={reference}", "--episodes=99")
    assert other.returncode == 2 and "different sweep" in other.stderr
    mitigated = sweep_cli(f"--resume={reference}", "--layer_norm")
    assert mitigated.returncode == 2 and "mitigations" in mitigated.stderr
    complete = sweep_cli(f"--resume={reference}")
    assert complete.returncode == 0 and "is complete" in complete.stdout
    old_format = tmp_path / "old"
    old_format.mkdir()
    (old_format / "sweep.json").write_text((reference / "sweep.json").read_text())
    (old_format / "checkpoint.npz").write_bytes(b"")
    refused = sweep_cli(f"--resume={old_format}")
    assert refused.returncode == 2 and "older format" in refused.stderr
    assert sorted(p.name for p in old_format.iterdir()) == ["checkpoint.npz", "sweep.json"]
    same_settings = sweep_cli(f"--resume={reference}", "--layer_norm=false", "--actor_grad_clip=inf")
    assert same_settings.returncode == 0 and "is complete" in same_settings.stdout
    assert sorted(p.name for p in reference.iterdir()) == before


@pytest.mark.parametrize(
    "content",
    [
        '{"actor_lrs": 0.01, "critic_lrs": [0.1]}',
        "[1, 2]",
        '{"actor_lrs": [0.01], "critic_lrs": [0.1], "mitigations": null}',
        '{"actor_lrs": [0.01], "critic_lrs": [0.1], "mitigations": {"layer_norm": "1"}}',
        '{"actor_lrs": [0.01], "critic_lrs": [0.1], "actor_hidden": 64}',
        "{not json",
        '{"actor_lrs": [0.01], "critic_lrs": [0.1], "variants": ["a"]}',
        '{"actor_lrs": [0.01], "critic_lrs": [0.1], "variants": {"../a": {}}}',
        '{"actor_lrs": [0.01], "critic_lrs": [0.1], "variants": {"a": {"layer_norm": 3}}}',
        '{"actor_lrs": [0.01], "critic_lrs": [0.1], "variants": {"a": {"actor_hidden": 8}}}',
        '{"actor_lrs": [0.01], "critic_lrs": [0.1], "variants": {"a": {"output_activation": "relu"}}}',
    ],
)
def test_malformed_sweep_file_is_one_line_exit_2(tmp_path, content):
    definition = tmp_path / "bad.json"
    definition.write_text(content)
    result = sweep_cli(f"--sweep={definition}", f"--out={tmp_path / 'run'}")
    assert result.returncode == 2 and result.stderr.startswith("error:"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_cli_runs_chosen_variants_as_one_program(tiny_variant_sweep):
    out, result = tiny_variant_sweep
    assert "4 lanes (2 variant(s))" in result.stdout
    assert "variant softsign:" in result.stdout and "variant baseline:" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["definition"]["variants"]) == ["softsign", "baseline"]
    assert [(r["seed"], r["variant"]) for r in summary["lanes"]] == [
        (0, "softsign"),
        (0, "baseline"),
        (1, "softsign"),
        (1, "baseline"),
    ]
    assert load_metrics(out)["train_reward"].shape == (4, 10)
    assert np.all(np.isfinite(load_metrics(out)["train_reward"]))  # the padded last chunk's real episodes
    # --keep_checkpoint keeps the final state, and only it.
    index = json.loads((out / "checkpoint" / names.CHECKPOINT_INDEX).read_text())
    assert index["episodes_done"] == 10 and index["blocks"][-1]["file"] == names.block_file(3, 10)
    assert len(list((out / "checkpoint").iterdir())) == 1 + len(index["blocks"]) and not (out / "metrics").exists()
    assert f"final state kept in {out / 'checkpoint'}" in result.stdout
    assert (out / "table.txt").read_text().startswith("variant softsign:")
    other = sweep_cli(f"--resume={out}", "--variants=baseline")
    assert other.returncode == 2 and "different sweep" in other.stderr
