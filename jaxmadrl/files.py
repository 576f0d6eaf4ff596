"""Files that appear whole or not at all."""
from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import shutil
import tempfile
from typing import BinaryIO, Callable


def write_atomically(path: pathlib.Path, write: Callable[[BinaryIO], object]) -> None:
    """Calls ``write(file)`` on a scratch file beside ``path``, then renames it to ``path``."""
    handle, scratch = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.chmod(scratch, 0o644)  # mkstemp's 0600 would hide results from other users
        os.replace(scratch, path)
    except BaseException:
        pathlib.Path(scratch).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_output_dir(out: pathlib.Path):
    """Yields a scratch folder beside ``out``; renamed to ``out`` only on success."""
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield scratch
        os.chmod(scratch, 0o755)  # mkdtemp's 0700 would hide results from other users
        os.replace(scratch, out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def json_text(value) -> str:
    """Strict JSON (``null`` where a float is NaN or infinite), indented."""
    def finite(item):
        if isinstance(item, float) and not math.isfinite(item):
            return None
        if isinstance(item, dict):
            return {k: finite(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [finite(v) for v in item]
        return item

    return json.dumps(finite(value), indent=2, allow_nan=False)
