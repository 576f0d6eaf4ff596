"""Files that appear whole or not at all, and run folders that one process at a time holds."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import math
import os
import pathlib
import re
import stat
import tempfile
import time
from typing import BinaryIO, Callable


class FolderInUse(Exception):
    """Another process holds the lock of a run folder."""


class NotOwnFile(OSError):
    """A path the tool writes is a symbolic link or not a regular file: it would write
    through it, into whatever it points at."""


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


# The scratch file of ``write_atomically``: "." + the file's name + "." + mkstemp's 8 characters.
SCRATCH = re.compile(r"\..+\.[a-z0-9_]{8}")


def remove_scratch(folder: pathlib.Path) -> None:
    """Removes the scratch files that a process killed in ``write_atomically`` left in
    ``folder`` (call it only while holding the folder, so that no live writer owns them)."""
    for entry in folder.iterdir() if folder.is_dir() else ():
        if SCRATCH.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink():
            entry.unlink(missing_ok=True)


def digest(path: pathlib.Path) -> str:
    """The SHA-256 of the file's bytes, in hex."""
    sha = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(2**20), b""):
            sha.update(block)
    return sha.hexdigest()


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
def locked(lock_file: pathlib.Path, wait_s: float = 0):
    """Holds an exclusive lock (``flock``) on ``lock_file``, which names the holder's pid,
    for the block, waiting up to ``wait_s`` seconds for it. The OS releases it when the
    process ends, however it ends, so a killed run never leaves a stale lock. FolderInUse
    if another process holds it; NotOwnFile if ``lock_file`` is a symbolic link or not a
    regular file (it is opened without following links, and never written through one)."""
    handle = open_own_file(lock_file)
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
                raise FolderInUse(f"{lock_file.parent} is in use by process {holder}") from None
            raise
    try:
        os.ftruncate(handle, 0)
        os.write(handle, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(handle)


def open_own_file(path: pathlib.Path) -> int:
    """``path`` opened for reading and writing (created if missing) without following a
    symbolic link and only if it is a regular file; NotOwnFile otherwise."""
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise NotOwnFile(errno.ELOOP, "a symbolic link where the tool keeps a file of its own", str(path)) from None
        raise
    if not stat.S_ISREG(os.fstat(handle).st_mode):
        os.close(handle)
        raise NotOwnFile(errno.EINVAL, "not a regular file", str(path))
    return handle


def check_own_entries(folder: pathlib.Path, names: tuple[str, ...]) -> None:
    """NotOwnFile if any of ``names`` in ``folder`` — or any entry of those that are
    folders — is a symbolic link: the tool writes there, and must not write through one."""
    for name in names:
        path = folder / name
        entries = [path, *(path.iterdir() if path.is_dir() and not path.is_symlink() else ())]
        for entry in entries:
            if entry.is_symlink():
                raise NotOwnFile(errno.ELOOP, "a symbolic link where the tool keeps a file of its own", str(entry))


def io_error_text(error: OSError) -> str:
    """An OSError as one line: what failed, where."""
    where = f": {error.filename}" if error.filename else ""
    return f"{error.strerror or error}{where}"
