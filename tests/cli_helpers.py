"""Shared by the tests: running the command-line programs in a subprocess."""

import os
import signal
import subprocess
import sys
import time

from jaxmadrl.checkpoints import CHECKPOINT_INDEX


def run_module(module, *args, devices=1, wait=True, xla_flags=()):
    """Runs ``python -m module args`` with this interpreter and import path, on ``devices``
    host devices; the other XLA flags of this process (e.g. --xla_cpu_max_isa) are kept,
    with ``xla_flags`` in place of any of the same name."""
    replaced = ("--xla_force_host_platform_device_count", *(flag.split("=")[0] for flag in xla_flags))
    xla_flags = [flag for flag in os.environ.get("XLA_FLAGS", "").split() if not flag.startswith(replaced)] + list(
        xla_flags
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "XLA_FLAGS": " ".join([*xla_flags, f"--xla_force_host_platform_device_count={devices}"]),
    }
    command = [sys.executable, "-m", module, *args]
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


# A tiny but real sweep: 2 seeds x 2 actor LRs x 1 critic LR, 3 agents.
TINY_SWEEP = [
    "--actor_lrs=1e-3,1e-1",
    "--critic_lrs=1e-2",
    "--seeds=2",
    "--n_agents=3",
    "--steps_per_episode=3",
    "--episodes=60",
    "--chunk=4",
]


def wait_for(predicate, process, timeout=300):
    """Waits until ``predicate()`` holds while ``process`` runs; fails if it never does."""
    deadline = time.time() + timeout
    while not predicate() and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert predicate(), process.communicate()


def killed_after_first_checkpoint(module, out, *args, devices=1):
    """Starts ``python -m module ... --out=out`` and kills it (SIGKILL) as soon as its first
    checkpoint is committed; fails if the run finished first."""
    process = run_module(module, *args, f"--out={out}", devices=devices, wait=False)
    wait_for(lambda: (out / "checkpoint" / CHECKPOINT_INDEX).exists(), process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "summary.json").exists(), "the run finished before it could be killed"
