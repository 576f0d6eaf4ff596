"""Shared by the tests: running the command-line programs in a subprocess."""
import os
import subprocess
import sys


def run_module(module, *args, devices=1, wait=True):
    """Runs ``python -m module args`` with this interpreter and import path, on ``devices``
    host devices; the other XLA flags of this process (e.g. --xla_cpu_max_isa) are kept."""
    xla_flags = [flag for flag in os.environ.get("XLA_FLAGS", "").split()
                 if not flag.startswith("--xla_force_host_platform_device_count")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
           "XLA_FLAGS": " ".join([*xla_flags, f"--xla_force_host_platform_device_count={devices}"])}
    command = [sys.executable, "-m", module, *args]
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


# A tiny but real sweep: 2 seeds x 2 actor LRs x 1 critic LR, 3 agents.
TINY_SWEEP = ["--actor_lrs=1e-3,1e-1", "--critic_lrs=1e-2", "--seeds=2", "--n_agents=3",
              "--steps_per_episode=3", "--episodes=60", "--chunk=4"]
