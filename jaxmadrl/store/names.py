"""The names of everything in a run folder, defined once.

A run folder holds ``sweep.json`` (the definition), ``environment.json`` (what each session
computed with: code, versions, machine, numerics, lane width; see ``provenance``),
``checkpoint/`` (the whole state after the last finished chunk: one file per block of
lanes and ``checkpoint.json``, the index naming them), ``metrics/chunk_<episode>.npz`` (the
metrics of each finished chunk), ``run.lock``, which one process at a time holds, and
``logs/`` if live logs were asked for (``metrics.csv``, ``tensorboard/``, ``wandb/``). When
the run completes it holds ``metrics.npz`` (every metric as (lanes, episodes, ...)),
``params.npz`` (every lane's final parameters, named; ``final_params``),
``summary.json``, ``summary.csv`` (one row per lane) and ``table.txt`` (the stopping table
of each variant). A sharded run's folder holds ``shards.json`` (the plan) and one such
folder per shard, ``shard-<i>-of-<n>/``, and the same results once they are merged.
"""

from __future__ import annotations

import pathlib

RUNS_DIR = pathlib.Path("sweeps/runs")  # where a command puts a new run unless told (--out)

DEFINITION = "sweep.json"
ENVIRONMENT = "environment.json"
LOCK = "run.lock"
CHECKPOINT = "checkpoint"  # a folder
CHECKPOINT_INDEX = "checkpoint.json"  # inside CHECKPOINT
CHUNKS = "metrics"  # a folder of CHUNK_GLOB files
CHUNK_GLOB = "chunk_*.npz"
METRICS = "metrics.npz"
PARAMS = "params.npz"  # every lane's final parameters (final_params)
SUMMARY = "summary.json"
SUMMARY_CSV = "summary.csv"
TABLE = "table.txt"
PLAN = "shards.json"
LOGS = "logs"  # a folder: the live logs asked for (jaxmadrl.logs), kept when the run completes

# What a finished run holds (summary.json last: its presence marks the run complete).
RESULTS = (METRICS, PARAMS, SUMMARY_CSV, TABLE, SUMMARY)
# Every entry of a run folder the tool writes (a symbolic link in its place is refused).
WRITTEN = (DEFINITION, ENVIRONMENT, LOCK, CHECKPOINT, CHUNKS, PLAN, LOGS, *RESULTS)


def chunk_file(first_episode: int) -> str:
    """The metrics file of the chunk that starts at ``first_episode`` (0-based)."""
    return f"chunk_{first_episode:06d}.npz"


def chunk_first_episode(path: pathlib.Path) -> int:
    """The inverse of ``chunk_file``."""
    return int(path.stem.split("_")[1])


def block_file(first_lane: int, episodes_done: int) -> str:
    """The checkpoint file of the block of lanes from ``first_lane`` after ``episodes_done``."""
    return f"lanes{first_lane:05d}-episode{episodes_done:06d}.npz"


def shard_folder(index: int, count: int) -> str:
    return f"shard-{index}-of-{count}"


def new_run_dir(name: str, timestamp: str) -> pathlib.Path:
    """Where a new run named ``name`` goes by default."""
    return RUNS_DIR / f"{name}-{timestamp}"
