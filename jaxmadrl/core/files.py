"""Files that appear whole or not at all, and run folders that one process at a time holds."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import pathlib
import tempfile
import time
from typing import BinaryIO, Callable

LOCK_FILE = "run.lock"


class FolderInUse(Exception):
    """Another process holds the lock of a run folder."""


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


def create_new_folder(path: pathlib.Path) -> None:
    """Creates ``path`` and any missing parents; FileExistsError if ``path`` exists, so two
    processes can never both create it (no check-then-create race)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir()


@contextlib.contextmanager
def locked(folder: pathlib.Path, wait_s: float = 0):
    """Holds an exclusive lock on ``folder`` (``flock`` on its ``run.lock``, which names the
    holder's pid) for the block, waiting up to ``wait_s`` seconds for it. The OS releases
    it when the process ends, however it ends, so a killed run never leaves a stale lock.
    FolderInUse if another process holds it."""
    handle = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN) and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            holder = os.read(handle, 32).decode(errors="replace").strip() or "unknown"
            os.close(handle)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise FolderInUse(f"{folder} is in use by process {holder}") from None
            raise
    try:
        os.ftruncate(handle, 0)
        os.write(handle, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(handle)


def io_error_text(error: OSError) -> str:
    """An OSError as one line: what failed, where."""
    where = f": {error.filename}" if error.filename else ""
    return f"{error.strerror or error}{where}"
