import gc
import os
import pathlib
import shutil
import sys
import tempfile

# Test helpers (e.g. the oracle of docs/SPEC.md §1) live beside the tests.
sys.path.insert(0, str(pathlib.Path(__file__).parent))


import json  # noqa: E402

import pytest  # noqa: E402
from cli_helpers import TINY_SWEEP, run_in_process  # noqa: E402


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory):
    """A finished tiny sweep run (directory, completed process), shared by several test files."""
    out = tmp_path_factory.mktemp("sweep") / "run"
    result = run_in_process("jaxmadrl.sweep", *TINY_SWEEP, f"--out={out}")
    assert result.returncode == 0, result.stderr
    return out, result


@pytest.fixture(scope="session")
def tiny_variant_sweep(tmp_path_factory):
    """A finished tiny sweep of 2 of the 3 variants of a definition file, 2 seeds × 1 config
    each, 10 episodes in chunks of 4 (the last one padded), its final checkpoint kept
    (directory, completed process). Its settings are the tiny sweep's: variants are traced,
    so both run one compiled program."""
    root = tmp_path_factory.mktemp("variants")
    definition = root / "study.json"
    definition.write_text(
        json.dumps(
            {
                "actor_lrs": [1e-1],
                "critic_lrs": [1e-2],
                "n_agents": 3,
                "steps_per_episode": 3,
                "episodes": 10,
                "chunk": 4,
                "variants": {
                    "baseline": {},
                    "layernorm": {"layer_norm": 1},
                    "softsign": {"output_activation": "softsign"},
                },
            }
        )
    )
    out = root / "run"
    result = run_in_process(
        "jaxmadrl.sweep",
        f"--sweep={definition}",
        "--variants=softsign,baseline",
        "--seeds=2",
        "--keep_checkpoint",
        f"--out={out}",
    )
    assert result.returncode == 0, result.stderr
    return out, result


CACHE_RACE_WARNING = "Error reading persistent compilation cache entry"


def pytest_configure(config):
    """One persistent XLA compilation cache for the session, shared by the test processes and
    every command a test starts (they inherit the environment): the same program is compiled
    once, not in every process that runs it. A loaded executable is the one compiled, so what
    a test computes is unchanged. A cache the caller names (JAX_COMPILATION_CACHE_DIR) is used
    as it is; otherwise a fresh one is made here and removed at the end."""
    config.addinivalue_line("filterwarnings", f"ignore:{CACHE_RACE_WARNING}:UserWarning")
    if hasattr(config, "workerinput") or "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return  # an xdist worker inherits the controller's
    cache = tempfile.mkdtemp(prefix="jaxmadrl-tests-xla-cache-")
    config.add_cleanup(lambda: shutil.rmtree(cache, ignore_errors=True))
    # JAX writes an entry in place, so a process may read one that another is still writing;
    # it then warns and compiles the program itself (the same executable). That warning
    # says nothing about the code under test, and a command's stderr is part of what tests check.
    ignored = f"ignore:{CACHE_RACE_WARNING}:UserWarning"
    os.environ.update(
        JAX_COMPILATION_CACHE_DIR=cache,
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
        PYTHONWARNINGS=",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), ignored])),
    )


@pytest.hookimpl(trylast=True)
def pytest_runtest_logfinish(nodeid, location):
    """After each test, what a test process holds is frozen: Python's full garbage collections
    then traverse only what later tests make, not the growing heap of compiled programs and
    traces. Over the whole suite on 2 workers, their full collections took 14.8 s and 22.0 s
    (28 and 34 of them); with the freezes 3.0 s and 4.9 s, each worker's peak memory 5.2 and
    5.4 GB (5.2 GB without). Cycles already unreachable when frozen are kept until the process ends."""
    gc.freeze()


def pytest_sessionfinish(session):
    """A test worker collects its garbage once and freezes what survives, before it reports
    that it has finished. After that report pytest collects garbage five times more (for
    unraisable exceptions), and xdist gives a worker 5 s to end before it interrupts it
    (SIGINT, then reported as a KeyboardInterrupt "ignored" in JAX's collection callback).
    Over a worker's heap at the end of the suite (2-19 million objects) one collection took
    1.2-2.1 s (five: 6-10 s); after the freeze the five took under 0.01 s, as frozen objects
    are not traversed again."""
    if hasattr(session.config, "workerinput"):
        gc.collect()
        gc.freeze()


def pytest_collection_modifyitems(items):
    """Full-size mechanism checks and tests that compile a train step or a training program
    are slow too: the inner loop (-m "not slow") leaves them out."""
    for item in items:
        if item.get_closest_marker("fullsize") or item.get_closest_marker("program"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _close_figures():
    """Figures a test leaves open in pyplot are closed after it, so that the next test in the
    same process (the notebook's counts its own plots) starts with none."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
