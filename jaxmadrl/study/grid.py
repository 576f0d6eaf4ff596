"""Running many lanes as one compiled program.

One compiled chunk program serves every lane: ``jax.vmap`` over lanes sits inside the scan
over episodes, so the episode counter stays unbatched and its ``cond``s remain real
branches. It is called on all lanes at once (sharded over devices; no collectives are
needed) or on blocks of lanes, several blocks at once on host threads — the faster way on
the CPU.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.scaffold import scan_episodes
from jaxmadrl.agents.trainers import trainer_of
from jaxmadrl.study.lane_axis import join_lanes


class Grid(NamedTuple):
    init: Callable  # (lane keys (G,), hparams (G,)) → lane-batched TrainState
    run_chunk: Callable  # (states, clocks (T,) EpisodeClock, hparams) → (states, metrics (T, G, ...))


# The run's length and schedule enter the chunk program as its clock (agents.scaffold.EpisodeClock),
# so configs that differ only in these fields have one chunk program, built at these values.
FIXED_SCHEDULE = {"episodes": 1, "episodes_before_train": 0, "eval_every": 1}


@functools.lru_cache(maxsize=16)
def make_grid(config: TrainConfig) -> Grid:
    """The lane-batched programs of ``config``: the same functions for equal configs, and the
    same chunk program for configs that differ only in their schedule (``FIXED_SCHEDULE``), so
    that runs in one process (a notebook's, a test session's) reuse what JAX traced and
    compiled for the first (JAX caches by function); the 16 latest are kept."""
    return Grid(init=jax.vmap(trainer_of(config).init), run_chunk=_shared_chunk_program(without_schedule(config)))


def without_schedule(config: TrainConfig) -> TrainConfig:
    """``config`` with its schedule at ``FIXED_SCHEDULE`` (what its chunk program does not read)."""
    return dataclasses.replace(config, **FIXED_SCHEDULE)


def chunk_program(config: TrainConfig) -> Callable:
    """run_chunk(states, clocks (T,), hparams) → (states, metrics (T, G, ...)): ``config``'s
    episode vmapped over lanes, scanned over a chunk's clocks."""
    run_lanes = jax.vmap(trainer_of(config).run_episode, in_axes=(0, None, 0))

    def run_chunk(states, clocks, hparams):
        return scan_episodes(run_lanes, states, clocks, hparams)

    return run_chunk


_shared_chunk_program = functools.lru_cache(maxsize=16)(chunk_program)


def lane_sharding(n_lanes: int, max_devices: int | None = None) -> NamedSharding:
    """Shards a leading lane axis over as many devices as divide ``n_lanes`` evenly."""
    devices = jax.devices()[: max_devices or None]
    n_devices = max(d for d in range(1, len(devices) + 1) if n_lanes % d == 0)
    mesh = Mesh(np.asarray(devices[:n_devices]), ("grid",))
    return NamedSharding(mesh, PartitionSpec("grid"))


# The compiled chunk program is vmapped over a lane axis of any width. A run calls it on
# consecutive blocks of ``lanes_per_call`` lanes, several blocks at once on host threads.
# On XLA:CPU one lane per call, one call per core at a time, is ~1.5× faster than one call over
# every lane (batched matrix products run slower than single ones, and a single lane's
# operations cannot keep two cores busy alone; benchmarks/RESULTS.md). Elsewhere one call
# over every lane, sharded over the devices, is the default.


def default_lanes_per_call(n_lanes: int) -> int:
    return 1 if jax.default_backend() == "cpu" else n_lanes


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_workers(n_blocks: int) -> int:
    """One worker thread per CPU this process may use, at most one per block."""
    return max(1, min(n_blocks, usable_cpus()))


def run_blocks(
    pool: ThreadPoolExecutor, compiled_chunk, states: list, episodes, hparams: list, after_call: Callable | None = None
):
    """One chunk for every block of lanes, the blocks on ``pool``'s threads; each block's
    state is donated. ``after_call(block index, new state)`` runs on the same thread once
    the block's call is done (e.g. to checkpoint it while other blocks compute).
    Returns (new block states, metrics (T, G, ...) on host)."""

    def run_one(block):
        state, metrics = compiled_chunk(states[block], episodes, hparams[block])
        metrics = jax.device_get(metrics)
        if after_call is not None:
            after_call(block, state)
        return state, metrics

    outcomes = list(pool.map(run_one, range(len(states))))
    return [state for state, _ in outcomes], join_lanes([metrics for _, metrics in outcomes], axis=1)
