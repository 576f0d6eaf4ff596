"""One sweep split into shards: the split, SLURM job-array detection, shards as concurrent
processes merged bit for bit into the unsharded run, a killed shard resumed, shards over
several devices, and shards that do not belong together refused."""

import json
import os
import pathlib
import shutil
import subprocess
import time

import numpy as np
import pytest
from cli_helpers import TINY_SWEEP, killed_after_first_checkpoint, run_in_process, run_module
from programs import assert_programs_agree

import jaxmadrl
from jaxmadrl.core.limits import SettingError
from jaxmadrl.store import shards
from jaxmadrl.store.run_folder import RunFolderError
from jaxmadrl.store.shards import Shard
from jaxmadrl.study.definition import SweepDefinition

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent.parent
RESULTS = ("metrics.npz", "params.npz", "summary.json", "summary.csv", "table.txt")


def test_shards_split_the_calls_into_contiguous_shares():
    for n_lanes, lanes_per_call, count in [(16, 1, 3), (16, 4, 3), (12, 2, 6), (7, 1, 7), (560, 10, 8)]:
        shares = [Shard(i, count).lane_range(n_lanes, lanes_per_call) for i in range(count)]
        assert [lane for share in shares for lane in share] == list(range(n_lanes))
        assert all(len(share) > 0 and share.start % lanes_per_call == 0 for share in shares)
        sizes = [len(share) // lanes_per_call for share in shares]
        assert max(sizes) - min(sizes) <= 1
    assert [Shard(i, 3).lane_range(4, 1) for i in range(3)] == [range(0, 1), range(1, 2), range(2, 4)]
    with pytest.raises(SettingError, match="make 2 call"):
        Shard(0, 3).lane_range(4, 2)


@pytest.mark.parametrize("text", ["3/3", "-1/3", "1", "a/b", "1/0", "0/100001"])
def test_bad_shard_text_names_the_form(text):
    with pytest.raises(SettingError, match=r"must be i/n with 0 <= i < n"):
        Shard.parse(text)


@pytest.mark.parametrize(
    "environ, shard",
    [
        ({}, None),
        ({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "3"}, Shard(2, 3)),
        ({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "3"}, Shard(1, 3)),
        (
            {
                "SLURM_ARRAY_TASK_ID": "4",
                "SLURM_ARRAY_TASK_MIN": "0",
                "SLURM_ARRAY_TASK_MAX": "8",
                "SLURM_ARRAY_TASK_STEP": "2",
                "SLURM_ARRAY_TASK_COUNT": "5",
            },
            Shard(2, 5),
        ),
    ],
)
def test_the_shard_of_a_slurm_array_task(environ, shard):
    found = shards.from_slurm(environ)
    if shard is None:
        assert found is None
        return
    assert found[0] == shard
    assert found[1] == "from the SLURM job array (" + ", ".join(f"{k}={v}" for k, v in environ.items()) + ")"


@pytest.mark.parametrize(
    "environ",
    [
        {"SLURM_ARRAY_TASK_ID": "5"},  # no count
        {
            "SLURM_ARRAY_TASK_ID": "7",
            "SLURM_ARRAY_TASK_MIN": "1",
            "SLURM_ARRAY_TASK_MAX": "7",
            "SLURM_ARRAY_TASK_COUNT": "3",
        },
        {"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "3"},
        {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "3"},
    ],
)
def test_a_slurm_array_that_is_not_a_range_asks_for_the_shard(environ):
    with pytest.raises(SettingError, match="give --shard=i/n"):
        shards.from_slurm(environ)


def bit_identical(run_dir, reference):
    """Every result of ``run_dir`` equals ``reference``'s: metrics and final parameters bit for
    bit, the lane table, the CSV and the table."""
    for arrays in ("metrics.npz", "params.npz"):
        with np.load(run_dir / arrays) as merged, np.load(reference / arrays) as whole:
            assert sorted(merged.files) == sorted(whole.files)
            for name in whole.files:
                assert merged[name].dtype == whole[name].dtype and merged[name].shape == whole[name].shape, name
                assert merged[name].tobytes() == whole[name].tobytes(), name
    summaries = [json.loads((folder / "summary.json").read_text()) for folder in (run_dir, reference)]
    assert summaries[0]["lanes"] == summaries[1]["lanes"]
    assert summaries[0]["definition"] == summaries[1]["definition"]
    for name in ("summary.csv", "table.txt"):
        assert (run_dir / name).read_text() == (reference / name).read_text(), name


@pytest.mark.slow
def test_three_shards_at_once_merge_into_the_unsharded_run(tmp_path, tiny_sweep):
    """Three shard processes at once — one given --shard, two finding theirs in SLURM array
    variables, one of those naming the folder after the array's job id — and the last to
    finish merges them: bit-identical to the unsharded run of the same lane width."""
    reference, _ = tiny_sweep
    out = tmp_path / "sweeps" / "runs" / "custom-array77"
    array = {"SLURM_ARRAY_JOB_ID": "77", "SLURM_ARRAY_TASK_COUNT": "3"}
    started = time.perf_counter()
    processes = [
        run_module("jaxmadrl.sweep", *TINY_SWEEP, "--shard=0/3", f"--out={out}", wait=False),
        run_module(
            "jaxmadrl.sweep", *TINY_SWEEP, f"--out={out}", wait=False, env={**array, "SLURM_ARRAY_TASK_ID": "1"}
        ),
        run_module("jaxmadrl.sweep", *TINY_SWEEP, wait=False, cwd=tmp_path, env={**array, "SLURM_ARRAY_TASK_ID": "2"}),
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    wall_s = time.perf_counter() - started
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr
    print(f"3 shard processes: {wall_s:.1f} s")  # the note's timing (pytest -s)
    assert "shard 1/3 from the SLURM job array (SLURM_ARRAY_TASK_ID=1, SLURM_ARRAY_TASK_COUNT=3)" in outputs[1][0]
    assert "shard 2/3 from the SLURM job array" in outputs[2][0]
    assert "custom shard 0/3: 1 lanes" in outputs[0][0] and "custom shard 2/3: 2 lanes" in outputs[2][0]
    # A shard that found every shard done (the last, or several that ended together: the
    # merge is locked and done once) shows the results; the others what they wait for.
    merged = [stdout for stdout, _ in outputs if "All-actors stopping episode" in stdout]
    assert merged and all("custom-array77" in stdout.split("results in ")[1] for stdout in merged)
    assert all("The shard that finishes last merges them" in stdout for stdout, _ in outputs if stdout not in merged)
    bit_identical(out, reference)
    environments = json.loads((out / "summary.json").read_text())["environment"]
    assert [record["shard"] for record in environments] == ["0/3", "1/3", "2/3"]
    assert json.loads((out / "environment.json").read_text()) == environments
    for i in range(3):  # joined
        assert not any((out / Shard(i, 3).folder_name / name).exists() for name in ("metrics.npz", "params.npz"))
    figures = run_in_process("jaxmadrl.figures", f"--run={out}", f"--out={tmp_path / 'figures'}", "--formats=png")
    assert figures.returncode == 0, figures.stderr
    assert "3 shards" in (tmp_path / "figures" / "claims.md").read_text()


@pytest.mark.slow
def test_a_killed_shard_resumes_and_the_last_shard_merges(tmp_path, tiny_sweep):
    reference, _ = tiny_sweep
    out = tmp_path / "run"
    killed_after_first_checkpoint("jaxmadrl.sweep", out, *TINY_SWEEP, "--shard=0/2", folder=out / "shard-0-of-2")
    other = run_in_process("jaxmadrl.sweep", *TINY_SWEEP, "--shard=1/2", f"--out={out}")
    assert other.returncode == 0, other.stderr
    assert "not done yet: shard 0/2 (at episode " in other.stdout and not (out / "summary.json").exists()
    early = run_in_process("jaxmadrl.sweep", f"--merge={out}")
    assert early.returncode == 2 and early.stderr.startswith(f"error: cannot merge {out}: shard 0/2 at episode ")
    assert len(early.stderr.strip().splitlines()) == 1
    whole = run_in_process("jaxmadrl.sweep", f"--resume={out}")
    assert whole.returncode == 2 and "split into 2 shards" in whole.stderr
    resumed = run_in_process("jaxmadrl.sweep", f"--resume={out}", "--shard=0/2")
    assert resumed.returncode == 0, resumed.stderr
    assert "starting at episode 0" not in resumed.stdout and "All-actors stopping episode" in resumed.stdout
    bit_identical(out, reference)
    again = run_in_process("jaxmadrl.sweep", f"--merge={out}")
    assert again.returncode == 0 and "merged 4 lanes" in again.stdout


@pytest.mark.slow
def test_shards_over_two_devices_merge_into_the_two_device_run(tmp_path, tiny_sweep):
    """Each shard one call of 2 lanes split over 2 forced host devices, against the
    unsharded run of 2-lane calls on 2 devices, and that run against the tiny sweep's calls
    of 1 lane on 1 device. The unsharded run goes first, so that the shards, run at the same
    time, load its compiled program instead of each compiling it."""
    reference, _ = tiny_sweep
    whole, out = tmp_path / "whole", tmp_path / "run"
    flags = (*TINY_SWEEP, "--lanes_per_call=2")
    unsharded = run_module("jaxmadrl.sweep", *flags, f"--out={whole}", devices=2)
    assert unsharded.returncode == 0, unsharded.stderr
    assert (
        "4 lanes (1 variant(s)) as 2 call(s) of 2 lane(s)" in unsharded.stdout and "on 2 device(s)" in unsharded.stdout
    )
    # A program split over two devices against programs of 1 lane (tests/programs.py).
    with np.load(whole / "metrics.npz") as split, np.load(reference / "metrics.npz") as single:
        assert_programs_agree(dict(split), dict(single), episode_axis=1)
    processes = [
        run_module("jaxmadrl.sweep", *flags, f"--shard={i}/2", f"--out={out}", devices=2, wait=False) for i in (0, 1)
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr
    assert all("as 1 call(s) of 2 lane(s), 1 at a time, on 2 device(s)" in stdout for stdout, _ in outputs)
    bit_identical(out, whole)


# The tiny sweep's chunk program (tests/cli_helpers.TINY_SWEEP: chunk 4), compiled once a session.
TINY_DEFINITION = dict(
    name="t", actor_lrs=[1e-3, 1e-1], critic_lrs=[1e-2], n_agents=3, steps_per_episode=3, episodes=4, chunk=4
)


@pytest.mark.slow
def test_shards_that_do_not_belong_together_are_refused(tmp_path):
    out = tmp_path / "run"
    definition = SweepDefinition.from_dict(TINY_DEFINITION)
    join = dict(resume=False, lanes_per_call=None, matmul_precision=None)
    shards.join(definition, out, Shard(0, 2), **join)
    assert json.loads((out / "shards.json").read_text())["lanes_per_call"] == 1
    other = SweepDefinition.from_dict({**TINY_DEFINITION, "episodes": 5})
    with pytest.raises(RunFolderError, match="holds shards of another sweep: its episodes is 4, not 5"):
        shards.join(other, out, Shard(1, 2), **join)
    with pytest.raises(RunFolderError, match="is split into 2 shards, not 3"):
        shards.join(definition, out, Shard(1, 3), **join)
    with pytest.raises(RunFolderError, match="run with lanes_per_call 1, not 2"):
        shards.join(definition, out, Shard(1, 2), **{**join, "lanes_per_call": 2})
    with pytest.raises(RunFolderError, match="shard 0/2 of .* has already started"):
        shards.join(definition, out, Shard(0, 2), **join)
    with pytest.raises(RunFolderError, match="shard 1/2 of .* has not started"):
        shards.join(definition, out, Shard(1, 2), **{**join, "resume": True})
    plan = json.loads((out / "shards.json").read_text())
    plan["code"]["source_digest"] = "0" * 16
    (out / "shards.json").write_text(json.dumps(plan))
    with pytest.raises(RunFolderError, match="started by other code .source_digest differ"):
        shards.join(definition, out, Shard(1, 2), **join)
    # The same from the command line: one line, exit 2, nothing added.
    (tmp_path / "t.json").write_text(json.dumps(TINY_DEFINITION))
    result = run_in_process("jaxmadrl.sweep", f"--sweep={tmp_path / 't.json'}", "--shard=1/2", f"--out={out}")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "started by other code" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["run.lock", "shard-0-of-2", "shards.json", "sweep.json"]


@pytest.mark.slow
def test_shard_cli_refuses_a_folder_it_cannot_share(tmp_path, tiny_sweep):
    reference, _ = tiny_sweep
    copy = tmp_path / "unsharded"
    shutil.copytree(reference, copy)
    (copy / "summary.json").unlink()
    result = run_in_process("jaxmadrl.sweep", *TINY_SWEEP, "--shard=0/2", f"--out={copy}")
    assert result.returncode == 2 and "holds a sweep that is not sharded" in result.stderr
    result = run_in_process("jaxmadrl.sweep", *TINY_SWEEP, "--shard=0/2")
    assert result.returncode == 2 and "--shard needs --out" in result.stderr
    result = run_in_process("jaxmadrl.sweep", f"--merge={reference}")
    assert result.returncode == 2 and "is not a sharded sweep run" in result.stderr


@pytest.mark.slow
def test_the_sbatch_script_starts_or_resumes_its_shard(tmp_path):
    """sweeps/slurm/sweep.sbatch with a stand-in ``python`` that prints its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text('#!/usr/bin/env bash\necho "$@"\n')
    (bin_dir / "python").chmod(0o755)
    script = REPOSITORY / "sweeps" / "slurm" / "sweep.sbatch"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SLURM_ARRAY_TASK_ID": "1"}

    def sbatch(*args, **more):
        return subprocess.run(["bash", str(script), *args], env={**env, **more}, capture_output=True, text=True)

    run_dir = tmp_path / "run"
    first = sbatch("all16-5seeds", str(run_dir), SLURM_ARRAY_TASK_COUNT="3")
    assert first.stdout.split() == ["-m", "jaxmadrl.sweep", "--sweep=all16-5seeds", f"--out={run_dir}", "--shard=1/3"]
    (run_dir / "shard-1-of-3").mkdir(parents=True)
    again = sbatch("all16-5seeds", str(run_dir), "3")
    assert again.stdout.split() == ["-m", "jaxmadrl.sweep", f"--resume={run_dir}", "--shard=1/3"]
    outside = subprocess.run(["bash", str(script), "all16"], env={"PATH": env["PATH"]}, capture_output=True, text=True)
    assert outside.returncode != 0 and "usage: sbatch --array" in outside.stderr


@pytest.mark.program
def test_run_sweep_runs_a_shard_and_returns_the_run_once_merged(tmp_path):
    definition = SweepDefinition.from_dict(TINY_DEFINITION)
    whole = jaxmadrl.run_sweep(definition, tmp_path / "whole")
    out = tmp_path / "run"
    assert jaxmadrl.run_sweep(definition, out, shard="1/2") is None
    with pytest.raises(jaxmadrl.RunError, match="not merged yet"):
        jaxmadrl.load_run(out)
    with pytest.raises(RunFolderError, match="cannot merge .*: shard 0/2 not started"):
        jaxmadrl.merge_shards(out)
    run = jaxmadrl.run_sweep(definition, out, shard=Shard(0, 2))
    assert run.lanes == whole.lanes and sorted(run.metrics) == sorted(whole.metrics)
    for name, values in whole.metrics.items():
        assert run.metrics[name].tobytes() == values.tobytes(), name
    assert jaxmadrl.merge_shards(out).lanes == run.lanes
