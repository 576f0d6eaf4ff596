"""Signals are never lost: SIGINT and SIGTERM end a command with one line and 130 / 143
whatever it is doing — importing, training, or running a garbage-collector callback (where
Python discards the handler's exception)."""

import signal
import subprocess
import sys

import pytest
from cli_helpers import run_in_process, run_script

pytestmark = pytest.mark.slow  # every test here runs a command in a fresh process

# The tiny sweep's program (tests/cli_helpers.py), compiled once for the session; the signal
# comes while it is traced and compiled, so a short run is enough.
TRAIN = ["--n_agents=3", "--steps_per_episode=3", "--episodes=40", "--chunk=4"]

# A command started with a garbage-collector callback that raises ``signum`` in this
# process at the main thread's first collection once the run folder exists (while the
# program is traced and compiled): the handler then runs inside the callback, where Python
# discards its exception, as it does when JAX's callbacks are running at the moment a
# signal arrives.
SIGNAL_INSIDE_GC = """
import gc, pathlib, runpy, signal, sys, threading
out, signum = pathlib.Path(sys.argv[1]), int(sys.argv[2])
sent = []

def signal_inside_gc(phase, info):
    in_main_thread = threading.current_thread() is threading.main_thread()  # where handlers run
    if in_main_thread and not sent and (out / "sweep.json").exists():
        sent.append(signum)
        signal.raise_signal(signum)  # Python runs the handler right here, inside the callback

gc.callbacks.append(signal_inside_gc)
sys.argv = ["jaxmadrl.train", *sys.argv[3:]]
runpy.run_module("jaxmadrl.train", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_whose_exception_python_discards_still_ends_the_run(tmp_path, signum):
    out = tmp_path / "run"
    process = run_script(SIGNAL_INSIDE_GC, str(out), str(signum), *TRAIN, f"--out={out}")
    assert process.returncode == 128 + signum, process.stdout[-2000:]
    what = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
    assert process.stderr.strip().splitlines() == [f"{what}; continue with: python -m jaxmadrl.train --resume {out}"]
    assert not (out / "summary.json").exists()
    resumed = run_in_process("jaxmadrl.train", f"--resume={out}")  # what the line says to do
    assert resumed.returncode == 0 and "[40/40]" in resumed.stdout, resumed.stderr


# ``python -m MODULE`` with SIGINT raised as soon as ``at`` starts being imported.
SIGNAL_DURING_IMPORT = """
import importlib.abc, runpy, signal, sys
module, at = sys.argv[1], sys.argv[2]

class SignalAt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == at:
            sys.meta_path.remove(self)
            signal.raise_signal(signal.SIGINT)
        return None

sys.meta_path.insert(0, SignalAt())
sys.argv = [module, *sys.argv[3:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(
    "module, at", [("jaxmadrl.sweep", "jax"), ("jaxmadrl.train", "absl"), ("jaxmadrl.figures", "matplotlib")]
)
def test_ctrl_c_while_a_command_imports_is_one_line(tmp_path, module, at):
    process = run_script(SIGNAL_DURING_IMPORT, module, at, f"--out={tmp_path / 'out'}")
    assert process.returncode == 128 + signal.SIGINT
    assert process.stderr.strip().splitlines() == ["interrupted"]


def test_importing_the_package_imports_no_jax():
    """So that a command's signal handlers are in place before JAX loads."""
    shown = "import sys, jaxmadrl; print('jax' in sys.modules, sorted(jaxmadrl.__all__) == jaxmadrl.__all__)"
    result = subprocess.run([sys.executable, "-c", shown], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True"]
