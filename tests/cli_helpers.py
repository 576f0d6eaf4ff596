"""Shared by the tests: running the command-line programs in a subprocess or in this process."""

import contextlib
import importlib
import io
import os
import signal
import subprocess
import sys
import time

from jaxmadrl.cli import failing
from jaxmadrl.store.names import CHECKPOINT_INDEX


def run_module(module, *args, devices=1, wait=True, xla_flags=(), env=None, cwd=None, sigint_ignored=False):
    """Runs ``python -m module args`` with this interpreter and import path, on ``devices``
    forced host devices (``jax_num_cpu_devices``), with ``env`` added to the environment;
    the XLA flags of this process (e.g. --xla_cpu_max_isa) are kept, with ``xla_flags`` in
    place of any of the same name. ``sigint_ignored``: started with SIGINT ignored, as a
    script's background job is."""
    return _run(["-m", module, *args], devices, wait, xla_flags, env, cwd, sigint_ignored)


def run_script(code, *args, devices=1, wait=True, env=None):
    """Runs ``python -c code args`` as ``run_module`` runs a module."""
    return _run(["-c", code, *args], devices, wait, (), env, None, False)


def _run(python_args, devices, wait, xla_flags, env, cwd, sigint_ignored):
    replaced = tuple(flag.split("=")[0] for flag in xla_flags)
    kept = [flag for flag in os.environ.get("XLA_FLAGS", "").split() if not (replaced and flag.startswith(replaced))]
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("SLURM_")},
        "PYTHONPATH": os.pathsep.join(sys.path),
        "XLA_FLAGS": " ".join([*kept, *xla_flags]),
        "JAX_NUM_CPU_DEVICES": str(devices),
        **(env or {}),
    }
    command = [sys.executable, *python_args]
    if sigint_ignored:  # the shell ignores SIGINT, then becomes the program, which inherits that
        command = ["sh", "-c", 'trap "" INT; exec "$0" "$@"', *command]
    if not wait:
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


def one_line_error(result, exit_code: int, *fragments: str) -> None:
    """The process ended with ``exit_code`` and one line "error: …" holding every fragment."""
    assert result.returncode == exit_code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


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


def killed_after_first_checkpoint(module, out, *args, devices=1, folder=None):
    """Starts ``python -m module ... --out=out`` and kills it (SIGKILL) as soon as the first
    checkpoint of the run folder ``folder`` (default: ``out``) is committed; fails if the
    run finished first."""
    folder = folder or out
    process = run_module(module, *args, f"--out={out}", devices=devices, wait=False)
    wait_for(lambda: (folder / "checkpoint" / CHECKPOINT_INDEX).exists(), process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (folder / "summary.json").exists(), "the run finished before it could be killed"


def run_in_process(module, *args, env=None, cwd=None):
    """Runs the command ``python -m module args`` (``module``: jaxmadrl.sweep, .train, .figures
    or .evaluate) in this process, as ``launch`` runs it without the signal handlers, for a
    test of what the command does rather than of the process: its flags parsed, its ``main``
    run with ``env`` added to the environment and in ``cwd``; stdout, stderr and the exit code
    (SystemExit's, else 0) as a ``subprocess.CompletedProcess``. One device, this process's
    XLA flags."""
    command = importlib.import_module(module.replace("jaxmadrl.", "jaxmadrl.cli.", 1))
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(stdout))
        stack.enter_context(contextlib.redirect_stderr(stderr))
        stack.enter_context(_environment(env or {}))
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        try:
            command.main(failing.parse_flags([module, *map(str, args)], command))
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
    return subprocess.CompletedProcess([module, *args], code, stdout.getvalue(), stderr.getvalue())


@contextlib.contextmanager
def _environment(added):
    saved = {name: os.environ.get(name) for name in added}
    os.environ.update(added)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
