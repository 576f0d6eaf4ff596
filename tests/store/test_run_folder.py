"""A run folder nothing can corrupt: concurrent runs, full and read-only disks, signals,
damaged checkpoints, bounds and the messages users see first (the real commands, in a
subprocess where processes meet: signals, kills, locks)."""

import errno
import json
import os
import shutil
import signal
import subprocess

import numpy as np
import pytest
from cli_helpers import TINY_SWEEP, killed_after_first_checkpoint, one_line_error, run_in_process, run_module, wait_for

from jaxmadrl.core import files
from jaxmadrl.store import names
from jaxmadrl.store.names import CHECKPOINT_INDEX

pytestmark = pytest.mark.slow  # every test here runs a command whole


@pytest.fixture
def tmpfs(tmp_path):
    """mount(name, size, read_only) → a real tmpfs of that size under tmp_path; the test is
    skipped where this machine does not allow mounting one (test_write_is_whole_or_absent
    simulates a full disk on any machine)."""
    mounted = []

    def mount(name: str, size: str = "1m", read_only: bool = False):
        path = tmp_path / name
        path.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        try:
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
        except FileNotFoundError:
            pytest.skip("no mount command on this machine")
        if done.returncode != 0:
            pytest.skip(f"this machine does not allow mounting a tmpfs: {done.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder) -> None:
    """Writes into ``folder`` until its file system is full."""
    with open(folder / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC


# ----------------------------------------------------------------------------- 1. the lock


def test_two_new_runs_into_one_folder_one_is_refused(tmp_path):
    out = tmp_path / "run"
    first = run_module("jaxmadrl.sweep", *TINY_SWEEP, "--episodes=8", "--actor_lrs=1e-3", f"--out={out}", wait=False)
    second = run_module("jaxmadrl.sweep", *TINY_SWEEP, "--episodes=8", "--actor_lrs=1e-2", f"--out={out}", wait=False)
    outcomes = [(process.wait(timeout=600), *process.communicate()) for process in (first, second)]
    assert sorted(code for code, _, _ in outcomes) == [0, 2]
    winner = 1e-3 if outcomes[0][0] == 0 else 1e-2
    loser_stderr = next(err for code, _, err in outcomes if code == 2)
    assert "already exists" in loser_stderr and len(loser_stderr.strip().splitlines()) == 1
    # The folder is the winner's alone, and agrees with itself.
    summary = json.loads((out / "summary.json").read_text())
    assert summary["definition"]["actor_lrs"] == [winner] == json.loads((out / "sweep.json").read_text())["actor_lrs"]
    assert {lane["actor_lr"] for lane in summary["lanes"]} == {winner}


def test_second_resume_is_refused_and_sigterm_stops_the_first_resumably(tmp_path):
    out = tmp_path / "run"
    index = out / "checkpoint" / CHECKPOINT_INDEX
    killed_after_first_checkpoint("jaxmadrl.sweep", out, *TINY_SWEEP, "--episodes=100000")  # runs for minutes
    # A kill -9 leaves no stale lock: the folder resumes.
    resuming = run_module("jaxmadrl.sweep", f"--resume={out}", wait=False)
    wait_for(lambda: (out / names.LOCK).read_text().strip() == str(resuming.pid), resuming)
    refused = run_in_process("jaxmadrl.sweep", f"--resume={out}")
    one_line_error(refused, 2, f"is in use by process {resuming.pid}")
    # SIGTERM once the resumed run is past compiling, in its loop of chunks.
    killed_at = json.loads(index.read_text())["episodes_done"]
    wait_for(lambda: json.loads(index.read_text())["episodes_done"] > killed_at, resuming)
    resuming.send_signal(signal.SIGTERM)
    _, stderr = resuming.communicate(timeout=600)
    assert resuming.returncode == 128 + signal.SIGTERM and "Traceback" not in stderr
    assert stderr.strip().splitlines() == [
        f"terminated (SIGTERM); continue with: python -m jaxmadrl.sweep --resume {out}"
    ]
    assert json.loads(index.read_text())["episodes_done"] > 0


# ----------------------------------------------------------------------------- 2. disks


def test_sweep_on_a_full_disk_is_one_line_and_leaves_nothing(tmpfs):
    disk = tmpfs("full")
    fill(disk)
    result = run_in_process("jaxmadrl.sweep", *TINY_SWEEP, f"--out={disk / 'run'}")
    one_line_error(result, 1, "cannot write the run: No space left on device")
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_sweep_checks_the_free_space_before_a_checkpoint(tmpfs):
    disk = tmpfs("small", size="1m")
    result = run_in_process("jaxmadrl.sweep", *TINY_SWEEP, f"--out={disk / 'run'}")
    one_line_error(result, 1, "not enough free space for the next checkpoint: it needs", "MB are free")
    assert "[4/60]" not in result.stdout and list(disk.iterdir()) == []


def test_train_on_a_read_only_disk_fails_before_training(tmpfs):
    disk = tmpfs("read-only", read_only=True)
    result = run_in_process(
        "jaxmadrl.train", "--n_agents=3", "--steps_per_episode=3", "--episodes=7", f"--out={disk / 'run'}"
    )
    one_line_error(result, 1, "Read-only file system")
    assert "episodes" not in result.stdout and "compiled" not in result.stdout


def test_figures_on_a_full_disk_leave_only_whole_files(tmpfs, tiny_sweep):
    run_dir, _ = tiny_sweep
    disk = tmpfs("figures", size="600k")
    result = run_in_process("jaxmadrl.figures", f"--run={run_dir}", f"--out={disk / 'figures'}", "--smooth=5")
    one_line_error(result, 1, "cannot write the figures: No space left on device")
    written = list((disk / "figures").iterdir())
    assert written and not any(path.name.startswith(".") for path in written)  # no scratch file left
    for path in written:
        content = path.read_bytes()
        assert content.rstrip().endswith(b"%%EOF" if path.suffix == ".pdf" else b"IEND\xaeB`\x82"), path


def test_write_is_whole_or_absent(tmp_path):
    """A full disk simulated in the write path (on any machine): the old file stays as it
    was, and no scratch file is left."""
    target = tmp_path / "index.json"
    target.write_text("old")

    def write_then_fail(file):
        file.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        files.write_atomically(target, write_then_fail)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["index.json"]


# ----------------------------------------------------------------------------- 3. the checkpoint's life
# (the checkpoint deleted on completion, or kept with --keep_checkpoint: test_sweep.py)


# ----------------------------------------------------------------------------- 4. bounds


@pytest.mark.parametrize(
    "module, flag, message",
    [
        ("jaxmadrl.sweep", "--episodes=10000000000", "--episodes must be an integer in [1, 1000000]"),
        ("jaxmadrl.sweep", "--episodes=100000000", "--episodes must be an integer in [1, 1000000]"),
        ("jaxmadrl.sweep", "--seeds=100001", "--seeds must be an integer in [1, 100000]"),
        ("jaxmadrl.sweep", "--steps_per_episode=0", "--steps_per_episode must be"),
        ("jaxmadrl.sweep", "--actor_hidden=64,0", "--actor_hidden must be a non-empty list of integers"),
        ("jaxmadrl.train", "--episodes=0", "--episodes must be an integer in [1, 1000000], got 0"),
        ("jaxmadrl.train", "--episodes=10000000000", "--episodes must be an integer"),
        ("jaxmadrl.train", "--replay_capacity=100000000", "--replay_capacity must be an integer"),
        ("jaxmadrl.train", "--n_agents=20000", "--n_agents must be an integer in [1, 10000]"),
    ],
)
def test_integer_settings_have_clear_bounds_named_by_their_flag(tmp_path, module, flag, message):
    result = run_in_process(module, "--n_agents=3", "--steps_per_episode=3", flag, f"--out={tmp_path / 'run'}")
    one_line_error(result, 2, message)
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- 5. damaged checkpoints


@pytest.mark.parametrize(
    "damage, message",
    [
        ("empty block", "is damaged or not this sweep's"),
        ("random block", "is damaged or not this sweep's"),
        ("block of other numbers", "is damaged or not this sweep's: its contents differ"),
        ("index beyond the run", "which is not a block after 99 episodes"),
        ("index episodes edited", "which is not a block after 6 episodes"),
        ("index not JSON", "is not a checkpoint index"),
        ("learning rate edited in sweep.json", "was computed for another definition than the run's sweep.json"),
    ],
)
def test_damaged_checkpoint_is_refused_in_one_line(tmp_path, tiny_variant_sweep, damage, message):
    run_dir, _ = tiny_variant_sweep
    damaged = tmp_path / "run"
    shutil.copytree(run_dir, damaged)
    (damaged / "summary.json").unlink()  # as if killed while writing its results
    checkpoint = damaged / "checkpoint"
    index = json.loads((checkpoint / CHECKPOINT_INDEX).read_text())
    block = checkpoint / index["blocks"][0]["file"]
    if damage == "empty block":
        block.write_bytes(b"")
    elif damage == "random block":
        block.write_bytes(os.urandom(4096))
    elif damage == "block of other numbers":  # a valid file of the right shapes, e.g. another run's
        with np.load(block) as saved:
            arrays = {name: saved[name] + np.ones((), saved[name].dtype) for name in saved.files}
        with open(block, "wb") as file:
            np.savez(file, **arrays)
    elif damage in ("index beyond the run", "index episodes edited"):
        episodes = 99 if damage == "index beyond the run" else 6
        (checkpoint / CHECKPOINT_INDEX).write_text(json.dumps({**index, "episodes_done": episodes}))
    elif damage == "index not JSON":
        (checkpoint / CHECKPOINT_INDEX).write_text("{half")
    else:
        definition = json.loads((damaged / "sweep.json").read_text())
        (damaged / "sweep.json").write_text(json.dumps({**definition, "actor_lrs": [0.2]}))
    result = run_in_process("jaxmadrl.sweep", f"--resume={damaged}")
    one_line_error(result, 2, "cannot resume from", message)
    assert not (damaged / "summary.json").exists()


def test_a_truncated_metrics_chunk_is_refused_before_training(tmp_path):
    """Its episodes cannot be recomputed from the checkpoint: the resume says so at once,
    instead of training every remaining episode and then failing, on every later resume."""
    out = tmp_path / "run"
    killed_after_first_checkpoint("jaxmadrl.sweep", out, *TINY_SWEEP, "--episodes=100000")
    chunk = sorted((out / "metrics").glob("chunk_*.npz"))[0]
    chunk.write_bytes(chunk.read_bytes()[:100])
    result = run_in_process("jaxmadrl.sweep", f"--resume={out}")
    one_line_error(result, 2, f"cannot resume: {chunk} is damaged")
    assert "compiled" not in result.stdout


@pytest.mark.parametrize("entry", ["run.lock", "checkpoint", "environment.json"])
def test_a_symbolic_link_in_a_run_folder_is_never_written_through(tmp_path, tiny_variant_sweep, entry):
    run_dir, _ = tiny_variant_sweep
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    (folder / "summary.json").unlink()  # unfinished: a resume would write into it
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (folder / entry).unlink(missing_ok=True) if not (folder / entry).is_dir() else shutil.rmtree(folder / entry)
    (folder / entry).symlink_to(victim)
    result = run_in_process("jaxmadrl.sweep", f"--resume={folder}")
    one_line_error(result, 2, f"{folder / entry} is a symbolic link where the tool keeps a file of its own")
    assert victim.read_text() == "precious\n"


def test_a_damaged_environment_record_is_one_line_and_scratch_files_are_removed(tmp_path, tiny_variant_sweep):
    """A binary environment.json names itself and its remedy; the hidden scratch file of a
    write that a kill -9 interrupted is removed by the next process that holds the folder."""
    run_dir, _ = tiny_variant_sweep
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    (folder / "summary.json").unlink()
    scratch = folder / ".metrics.npz.k2j4x_9a"
    scratch.write_bytes(b"half a file")
    (folder / "environment.json").write_bytes(os.urandom(64) + b"\xff")
    result = run_in_process("jaxmadrl.sweep", f"--resume={folder}")
    one_line_error(result, 2, f"{folder / 'environment.json'} cannot be read", "remove it to continue")
    (folder / "environment.json").unlink()
    run_in_process("jaxmadrl.sweep", f"--resume={folder}")  # holds the folder, then stops at its missing chunks
    assert not scratch.exists()


# ----------------------------------------------------------------------------- 6. sweep files


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("actor_lrs", 0.001, '"actor_lrs" must be a non-empty list of numbers, got 0.001'),
        ("actor_lrs", None, '"actor_lrs" must be a non-empty list of numbers, got None'),
        ("actor_lrs", "abc", "\"actor_lrs\" must be a non-empty list of numbers, got 'abc'"),
        ("seeds", True, '"seeds" must be an integer in [1, 100000], got True'),
        ("episodes", 2.5, '"episodes" must be an integer'),
        ("mode", 3, "\"mode\" must be one of ['H2', 'TOBM'], got 3"),
    ],
)
def test_sweep_file_fields_are_checked_by_name(tmp_path, field, value, message):
    definition = tmp_path / "study.json"
    definition.write_text(json.dumps({"actor_lrs": [0.01], "critic_lrs": [0.1], field: value}))
    result = run_in_process("jaxmadrl.sweep", f"--sweep={definition}", f"--out={tmp_path / 'run'}")
    one_line_error(result, 2, f"{definition}: {message}")
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- 7. first contact


@pytest.mark.parametrize("module", ["jaxmadrl.sweep", "jaxmadrl.train", "jaxmadrl.figures"])
def test_help_exits_0(module):
    for flag in ("--help", "--helpfull"):
        result = run_in_process(module, flag)
        assert result.returncode == 0 and "--out" in result.stdout and result.stderr == ""


@pytest.mark.parametrize("sigint_ignored", [False, True])
def test_ctrl_c_during_train_is_one_line_and_the_run_resumes(tmp_path, sigint_ignored):
    """Also when started with SIGINT ignored (a script's background job), where Python
    would otherwise install no handler and ``kill -INT`` would go unheard."""
    out = tmp_path / "run"
    process = run_module(
        "jaxmadrl.train",
        "--n_agents=3",
        "--steps_per_episode=3",
        "--episodes=400",
        "--chunk=4",  # the tiny sweep's program (tests/cli_helpers.py), compiled once for the session
        f"--out={out}",
        wait=False,
        sigint_ignored=sigint_ignored,
    )
    wait_for(lambda: (out / "checkpoint" / CHECKPOINT_INDEX).exists(), process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 128 + signal.SIGINT and "Traceback" not in stderr
    assert stderr.strip().splitlines() == [f"interrupted; continue with: python -m jaxmadrl.train --resume {out}"]
    resumed = run_in_process("jaxmadrl.train", f"--resume={out}")
    assert resumed.returncode == 0, resumed.stderr
    assert "starting at episode 0" not in resumed.stdout and "[400/400]" in resumed.stdout
    assert json.loads((out / "summary.json").read_text())["lanes"][0]["final_train_reward"] is not None


def test_figures_of_a_folder_that_is_no_run_do_not_suggest_resuming(tmp_path):
    result = run_in_process("jaxmadrl.figures", f"--run={tmp_path}", f"--out={tmp_path / 'figures'}")
    one_line_error(result, 2, "is not a sweep run")
    assert "--resume" not in result.stderr
