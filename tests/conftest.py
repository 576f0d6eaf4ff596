import pathlib
import sys

# Test helpers (e.g. the SPEC oracle) live beside the tests.
sys.path.insert(0, str(pathlib.Path(__file__).parent))


import pytest  # noqa: E402

from cli_helpers import TINY_SWEEP, run_module  # noqa: E402


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory):
    """A finished tiny sweep run (directory, completed process), shared by several test files."""
    out = tmp_path_factory.mktemp("sweep") / "run"
    result = run_module("jaxmadrl.sweep", *TINY_SWEEP, f"--out={out}")
    assert result.returncode == 0, result.stderr
    return out, result
