"""What the throughput benchmark measures: its lanes and the compiled programs it times.

``benchmark_definition`` is the sweep whose first G lanes are measured; ``Bench`` holds
them and builds, on first use, what several sections share: a ``Fixture`` (one lane with a
replay filled by real episodes), the train step compiled for 1 lane and for G lanes
(``TrainStepProgram``) and the grid chunk program compiled for 1 lane and for G lanes
(``GridProgram``), which ``ChunkRunner`` drives chunk after chunk as the sweep does. Every
setting comes in as an argument; the flags are read in ``throughput.py`` alone.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import jax
import jax.numpy as jnp
from timing import Report, timed

from jaxmadrl.agents import replay
from jaxmadrl.agents.ccm.learner import train_step
from jaxmadrl.agents.ccm.training import explore_episode, make_trainer
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.scaffold import episode_clock, networks_of
from jaxmadrl.study.definition import PAPER_LRS, SweepDefinition
from jaxmadrl.study.grid import lane_sharding, make_grid, run_blocks
from jaxmadrl.study.lane_axis import split_lanes


def benchmark_definition(n_lanes: int, chunk: int, chunk_calls: int, static: dict[str, Any]) -> SweepDefinition:
    """The paper's 4×4 LR grid over ceil(``n_lanes`` / 16) seeds, ``chunk`` episodes per
    call, ``static`` (static settings by name) as its static settings. ``episodes`` is set so
    that ``chunk_calls`` chunks never reach padding (episode indices ≥ episodes are no-ops)."""
    return SweepDefinition.from_dict(
        {
            "name": "throughput",
            "actor_lrs": PAPER_LRS,
            "critic_lrs": PAPER_LRS,
            "seeds": math.ceil(n_lanes / len(PAPER_LRS) ** 2),
            "chunk": chunk,
            "episodes": max(TrainConfig().episodes, chunk_calls * chunk),
            **static,
        }
    )


def take_lanes(tree, lanes: slice | int):
    """Every leaf indexed on its leading lane axis: (G, ...) → (g, ...) for a slice, (...) for an int."""
    return jax.tree.map(lambda x: x[lanes], tree)


def stack_lanes(tree, n_lanes: int):
    """G identical copies of every leaf on a new leading axis."""
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (n_lanes,) + x.shape), tree)


@dataclasses.dataclass
class Fixture:
    """One configuration after ``fill_episodes`` real exploring episodes, for the train-step
    and profile sections. ``memory`` is a one-entry dict because the donating parts replace it."""

    config: TrainConfig
    networks: Any
    hparams: HyperParams  # scalars (lane 0 of the grid)
    learner: Any
    world: Any
    eval_key: Any
    memory: dict
    act: Callable  # (memory, key, world, learner, hparams, epsilon) → (memory, summary); memory donated
    sample: Callable  # (memory, key) → (batch, indices, weights)
    batch: Any
    weights: Any


def make_fixture(config: TrainConfig, hparams: HyperParams, key, fill_episodes: int) -> Fixture:
    """Initial state of one lane (scalar ``hparams``, its lane ``key``), a replay filled by
    ``fill_episodes`` real exploring episodes, one batch from it."""
    networks = networks_of(config)
    state = jax.jit(make_trainer(config).init)(key, hparams)

    def episode(memory, key, world, learner, hparams, epsilon):
        memory, _, summary = explore_episode(key, world, learner, memory, networks, config, hparams, epsilon)
        return memory, summary

    act = jax.jit(episode, donate_argnums=0)
    sample = jax.jit(lambda memory, key: replay.sample(memory, key, config.batch_size)[1:])
    memory = state.memory
    for episode in range(fill_episodes):
        memory, _ = act(
            memory, jax.random.fold_in(state.key, episode), state.world, state.learner, hparams, config.epsilon(episode)
        )
    batch, _, weights = sample(memory, jax.random.key(1))
    return Fixture(
        config=config,
        networks=networks,
        hparams=hparams,
        learner=state.learner,
        world=state.world,
        eval_key=state.eval_key,
        memory={"memory": memory},
        act=act,
        sample=sample,
        batch=batch,
        weights=weights,
    )


@dataclasses.dataclass
class TrainStepProgram:
    """A compiled train step over ``lanes`` lanes (1: unbatched) and the arguments it is timed on."""

    lanes: int
    label: str
    compiled: Any
    args: tuple

    def __call__(self):
        return self.compiled(*self.args)


def compile_train_step(fixture: Fixture, hparams: HyperParams | None = None) -> TrainStepProgram:
    """The jitted ``learner.train_step``: unbatched on the fixture's lane if ``hparams`` is None,
    else vmapped over its G lanes ((G,) fields), each with its own learner copy and replay batch."""
    config, networks = fixture.config, fixture.networks

    def step(learner, batch, weights, hparams):
        return train_step(learner, batch, weights, hparams, networks, config)

    if hparams is None:
        args = (fixture.learner, fixture.batch, fixture.weights, fixture.hparams)
        return TrainStepProgram(1, "1 lane", jax.jit(step).lower(*args).compile(), args)
    n_lanes = len(hparams.actor_lr)
    sample_lanes = jax.jit(jax.vmap(fixture.sample, in_axes=(None, 0)))
    batches, _, weights = sample_lanes(fixture.memory["memory"], jax.random.split(jax.random.key(2), n_lanes))
    args = (stack_lanes(fixture.learner, n_lanes), batches, weights, hparams)
    label = f"{n_lanes} lane{'s' if n_lanes > 1 else ''} vmapped"
    return TrainStepProgram(n_lanes, label, jax.jit(jax.vmap(step)).lower(*args).compile(), args)


@dataclasses.dataclass
class GridProgram:
    """``grid.make_grid(config).run_chunk`` compiled for ``lanes`` lanes, state donated."""

    lanes: int
    compiled: Any
    lower_s: float
    compile_s: float
    init: Callable  # (lane keys, hparams) → lane-batched state, placed like the compiled program wants
    sharding: Any


def compile_grid(config: TrainConfig, hparams: HyperParams, keys, chunk: int) -> GridProgram:
    """Lowers and compiles the grid chunk program of ``chunk`` episodes for the G lanes of
    ``hparams`` and ``keys`` ((G,) each), timing each stage."""
    program, sharding = make_grid(config), lane_sharding(len(keys))
    init = jax.jit(program.init, out_shardings=sharding)
    hparams = jax.device_put(hparams, sharding)
    state_shape = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), jax.eval_shape(program.init, keys, hparams)
    )
    episodes = episode_clock(config, jnp.arange(chunk))
    lower = jax.jit(program.run_chunk, donate_argnums=0).lower
    lowered, lower_s = timed(lambda: lower(state_shape, episodes, hparams))
    compiled, compile_s = timed(lowered.compile)
    return GridProgram(len(keys), compiled, lower_s, compile_s, init, sharding)


class ChunkRunner:
    """Runs consecutive chunks of episodes with one compiled grid program on blocks of its
    lane width, ``workers`` blocks at a time on host threads (``grid.run_blocks``, as the
    sweep does). Each call = one chunk of ``bench.chunk`` episodes for every block."""

    def __init__(self, program: GridProgram, bench: "Bench", workers: int):
        self.program, self.config, self.next_episode = program, bench.config, 0
        self.chunk = bench.chunk
        self.hparams = [jax.device_put(h, program.sharding) for h in split_lanes(bench.hparams, program.lanes)]
        self.states = [program.init(k, h) for k, h in zip(split_lanes(bench.keys, program.lanes), self.hparams)]
        self.pool = ThreadPoolExecutor(workers)

    def __call__(self):
        chunk = self.chunk
        if self.next_episode + chunk > self.config.episodes:
            raise RuntimeError("the benchmark would run padding episodes; raise TrainConfig.episodes")
        episodes = episode_clock(self.config, jnp.arange(self.next_episode, self.next_episode + chunk))
        self.states, _ = run_blocks(self.pool, self.program.compiled, self.states, episodes, self.hparams)
        jax.block_until_ready(self.states)
        self.next_episode += chunk
        return self.states


class Bench:
    """The benchmark's settings, the G = ``n_lanes`` lanes ((G,) ``hparams`` and ``keys``,
    ``benchmark_definition``'s first G) and the programs several sections share, built on
    first use. ``chunk``: episodes per grid call; ``grid_calls``: the most chunks each grid
    state runs; ``fill_episodes``: exploring episodes that fill the fixture's replay;
    ``static``: static settings by name."""

    def __init__(self, n_lanes: int, chunk: int, grid_calls: int, fill_episodes: int, static: dict[str, Any]):
        self.n_lanes, self.chunk, self.fill_episodes = n_lanes, chunk, fill_episodes
        self.grid_calls = grid_calls  # chunks each grid state runs
        definition = benchmark_definition(n_lanes, chunk, grid_calls, static)
        self.config = definition.train_config()
        self.hparams = take_lanes(definition.hyperparams(), slice(self.n_lanes))
        self.keys = definition.lane_keys()[: self.n_lanes]
        self.report = Report()

    @functools.cached_property
    def fixture(self) -> Fixture:
        return make_fixture(self.config, take_lanes(self.hparams, 0), self.keys[0], self.fill_episodes)

    @functools.cached_property
    def train_steps(self) -> tuple[TrainStepProgram, TrainStepProgram]:
        """(1 lane unbatched, G lanes vmapped)."""
        return compile_train_step(self.fixture), compile_train_step(self.fixture, self.hparams)

    @functools.cached_property
    def grids(self) -> tuple[GridProgram, GridProgram]:
        """(1-lane grid, G-lane grid), both compiled from ``grid.make_grid(config)``."""
        return (
            compile_grid(self.config, take_lanes(self.hparams, slice(1)), self.keys[:1], self.chunk),
            compile_grid(self.config, self.hparams, self.keys, self.chunk),
        )
