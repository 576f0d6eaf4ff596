"""What a run folder holds (``names``), and reading and writing its files."""

from __future__ import annotations

import contextlib
import errno
import json
import pathlib
import shutil

import jax
import numpy as np

from jaxmadrl.core import files
from jaxmadrl.core.limits import SettingError
from jaxmadrl.store import final_params, names
from jaxmadrl.study import results
from jaxmadrl.study.definition import SweepDefinition


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked: it exists, another process holds it, or
    it is damaged or another sweep's."""


@contextlib.contextmanager
def held(folder: pathlib.Path, wait_s: float = 0, held_by: str = "another sweep or resume"):
    """Holds ``folder``'s lock for the block (``files.locked``), after checking that
    nothing the tool writes there is a symbolic link and removing the scratch files of
    writes that a killed process left. RunFolderError if another process
    holds it (saying what ``held_by`` it is) or a written path is not the folder's own."""
    try:
        with files.locked(folder / names.LOCK, wait_s):
            check_own(folder)
            for scratched in (folder, folder / names.CHECKPOINT, folder / names.CHUNKS):
                files.remove_scratch(scratched)  # left by a process killed while writing
            yield
    except files.FolderInUse as error:
        waited = f" for longer than {wait_s:g} s" if wait_s else ""
        raise RunFolderError(f"{error}{waited} ({held_by}); wait for it to end") from None
    except files.NotOwnFile as error:
        raise RunFolderError(f"{error.filename} is {error.strerror}; refused") from None


def check_own(folder: pathlib.Path) -> None:
    """RunFolderError if an entry the tool writes in ``folder`` is a symbolic link."""
    try:
        files.check_own_entries(folder, names.WRITTEN)
    except files.NotOwnFile as error:
        raise RunFolderError(f"{error.filename} is {error.strerror}; refused") from None


def read_definition(run_dir: pathlib.Path) -> SweepDefinition:
    """The definition of the run in ``run_dir`` (RunFolderError if there is none or it is bad)."""
    if not (run_dir / names.DEFINITION).is_file():
        raise RunFolderError(f"{run_dir} is not a sweep run (no {names.DEFINITION})")
    if (run_dir / "checkpoint.npz").is_file():
        raise RunFolderError(
            f"{run_dir} has a checkpoint of an older format (checkpoint.npz); this version cannot resume it"
        )
    try:
        return SweepDefinition.from_dict(json.loads((run_dir / names.DEFINITION).read_text()))
    except SettingError as error:
        raise RunFolderError(
            f'{run_dir / names.DEFINITION} is not a valid sweep definition: "{error.setting}" {error.problem}'
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
        raise RunFolderError(f"{run_dir / names.DEFINITION} is not a valid sweep definition: {error}") from None


def write_definition(run_dir: pathlib.Path, definition: SweepDefinition) -> None:
    files.write_atomically(
        run_dir / names.DEFINITION, lambda f: f.write(files.json_text(definition.to_dict()).encode())
    )


def is_complete(run_dir: pathlib.Path) -> bool:
    return _is_file(run_dir / names.SUMMARY)


def is_resumable(run_dir: pathlib.Path) -> bool:
    return _is_file(run_dir / names.CHECKPOINT / names.CHECKPOINT_INDEX)


def _is_file(path: pathlib.Path) -> bool:
    """``path.is_file()``, False also where the path cannot exist (e.g. a name too long)."""
    try:
        return path.is_file()
    except OSError:
        return False


def recorded_environments(run_dir: pathlib.Path) -> list[dict]:
    """The environment records of a run's earlier sessions ([] for a run made before they
    were recorded)."""
    path = run_dir / names.ENVIRONMENT
    if not path.is_file():
        return []
    remedy = "remove it to continue without the record of the earlier sessions"
    try:
        records = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunFolderError(f"{path} cannot be read ({error}); {remedy}") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise RunFolderError(f"{path} is not a list of environment records; {remedy}")
    return records


def write_environments(run_dir: pathlib.Path, environments: list[dict]) -> None:
    files.write_atomically(run_dir / names.ENVIRONMENT, lambda f: f.write(files.json_text(environments).encode()))


def joined_chunk_metrics(run_dir: pathlib.Path) -> dict[str, np.ndarray]:
    """The per-chunk metrics files joined: every metric as (lanes, episodes, ...)."""
    per_chunk = [dict(np.load(f)) for f in sorted((run_dir / names.CHUNKS).glob(names.CHUNK_GLOB))]
    # (episodes, lanes, ...) → (lanes, episodes, ...)
    return {k: np.swapaxes(np.concatenate([c[k] for c in per_chunk]), 0, 1) for k in per_chunk[0]}


def recorded_chunks(run_dir: pathlib.Path):
    """(first episode, metrics as (episodes, lanes, ...)) of each per-chunk metrics file, in order."""
    for path in sorted((run_dir / names.CHUNKS).glob(names.CHUNK_GLOB)):
        with np.load(path) as chunk:
            yield names.chunk_first_episode(path), dict(chunk)


def lane_rows(definition: SweepDefinition, lanes: range, trackers, metrics: dict) -> list[dict]:
    """The lane table's rows of the lanes ``lanes`` of ``definition`` (numbered as in the
    whole sweep); ``trackers``, ``metrics``: theirs, with a leading lane axis."""
    rows = []
    for position, index in enumerate(lanes):
        lane_metrics = {k: v[position] for k, v in metrics.items()}
        tracker = jax.tree.map(lambda x: x[position], trackers)
        rows.append(
            {
                "lane": index,
                **definition.lanes()[index]._asdict(),
                **results.lane_summary(tracker, lane_metrics, definition.episodes),
            }
        )
    return rows


def write_summary(run_dir: pathlib.Path, summary: dict, metrics: dict, params: dict) -> None:
    """``metrics.npz``, ``params.npz`` and then ``summary.json``, whose presence marks the folder complete."""
    files.write_atomically(run_dir / names.METRICS, lambda f: np.savez_compressed(f, **metrics))
    final_params.write(run_dir, params)
    files.write_atomically(run_dir / names.SUMMARY, lambda f: f.write(files.json_text(summary).encode()))


def write_results(
    run_dir: pathlib.Path,
    definition: SweepDefinition,
    metrics: dict,
    params: dict,
    rows: list[dict],
    environments: list[dict],
) -> None:
    """A finished sweep's results: ``metrics.npz`` and ``params.npz`` (every lane's),
    ``summary.csv``, ``table.txt`` and ``summary.json``; ``environments``: the record of
    every session that computed part of it."""
    table = results.stopping_tables(rows, definition.episodes)
    files.write_atomically(run_dir / names.SUMMARY_CSV, lambda f: f.write(results.summaries_csv(rows).encode()))
    files.write_atomically(run_dir / names.TABLE, lambda f: f.write((table + "\n").encode()))
    summary = {"definition": definition.to_dict(), "environment": environments, "lanes": rows}
    write_summary(run_dir, summary, metrics, params)


def check_free_space(run_dir: pathlib.Path, needed_bytes: int) -> None:
    """OSError (ENOSPC) before a checkpoint is written if the disk cannot hold it."""
    free = shutil.disk_usage(run_dir).free
    if free < needed_bytes:
        raise OSError(
            errno.ENOSPC,
            f"not enough free space for the next checkpoint: it needs "
            f"{needed_bytes / 1e6:.1f} MB, {free / 1e6:.1f} MB are free",
            str(run_dir),
        )
