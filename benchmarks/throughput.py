"""Throughput of jaxmadrl's compiled programs, every section measured in this one process.

    python benchmarks/throughput.py                          # everything, full size
    python benchmarks/throughput.py --sections=grid,compile  # some sections only
    python benchmarks/throughput.py --n_agents=3 --lanes=2 --episodes=4 --repeats=2  # smoke run

Sections (``--sections``): env, train, grid, compile, flops, profile; the peak RSS is
always printed. Every timed call is preceded by warm-up calls, waits for its results
(``jax.block_until_ready``) and is repeated; the numbers are medians. Measurements that are
compared with each other are taken in alternating rounds (A B, B A, A B, ...), so a slow
spell of the machine hits both sides alike. See benchmarks/README.md.
"""
from __future__ import annotations

import dataclasses
import datetime
import functools
import os
import platform
import resource
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
import optax
from absl import app, flags, logging

from jaxmadrl import env, grid, replay, rollout
from jaxmadrl.config import ACTOR_UPDATES, HyperParams, TrainConfig
from jaxmadrl.learner import actor_loss, critic_loss, td_targets, train_step
from jaxmadrl.networks import make_networks
from jaxmadrl.training import make_trainer

SECTIONS = ("env", "train", "grid", "compile", "flops", "profile")
PAPER_LRS = (1e-4, 1e-3, 1e-2, 1e-1)

flags.DEFINE_list("sections", list(SECTIONS), f"Sections to run, any of {','.join(SECTIONS)}.")
flags.DEFINE_integer("n_agents", 50, "Client agents per environment.", lower_bound=1)
flags.DEFINE_integer("lanes", 16, "G: configurations vmapped together (the paper's 4×4 grid is 16).",
                     lower_bound=1)
flags.DEFINE_integer("episodes", 20, "Episodes per lane in one timed call of the grid chunk.",
                     lower_bound=1)
flags.DEFINE_integer("repeats", 5, "Timed rounds per measurement (the median is reported).",
                     lower_bound=1)
flags.DEFINE_integer("warmup", 2, "Untimed rounds before every measurement (the first calls of a "
                     "program touch fresh memory and run slower).", lower_bound=1)
flags.DEFINE_integer("calls", 10, "Timed calls per round for the short (millisecond) measurements: "
                     "train step, profile parts.", lower_bound=1)
flags.DEFINE_integer("envs", 1024, "Environments vmapped in the env section.", lower_bound=1)
flags.DEFINE_integer("steps_per_episode", 10, "Environment steps per episode.", lower_bound=1)
flags.DEFINE_integer("batch_size", 64, "Replay batch size of a train step.", lower_bound=1)
flags.DEFINE_integer("replay_capacity", 10_000, "Replay capacity (slots).", lower_bound=1)
flags.DEFINE_integer("fill_episodes", 10, "Real exploring episodes that fill the replay before the "
                     "train step is measured.", lower_bound=1)
flags.DEFINE_enum("actor_update", "simultaneous", list(ACTOR_UPDATES), "Actor update order.")
flags.DEFINE_integer("matmul_size", 2048, "n of the n×n float32 jnp.dot taken as the peak.",
                     lower_bound=1)
FLAGS = flags.FLAGS


# ----------------------------------------------------------------------------- reporting

@dataclasses.dataclass
class Report:
    """Prints one labelled line per number and keeps them for the closing table."""

    rows: list[tuple[str, str, str, str]] = dataclasses.field(default_factory=list)
    shared: dict[str, float] = dataclasses.field(default_factory=dict)  # numbers sections reuse

    def number(self, section: str, label: str, value: float, unit: str, fmt: str = ",.2f") -> None:
        text = f"{value:{fmt}}"
        self.rows.append((section, label, text, unit))
        print(f"[{section}] {label}: {text} {unit}", flush=True)

    @staticmethod
    def note(section: str, text: str) -> None:
        print(f"[{section}] note: {text}", flush=True)

    def table(self) -> str:
        header = ("section", "measurement", "value", "unit")
        widths = [max(len(row[i]) for row in self.rows + [header]) for i in range(4)]
        line = lambda row: "  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]),
                                      row[2].rjust(widths[2]), row[3]])
        rule = "  ".join("-" * w for w in widths)
        return "\n".join([line(header), rule] + [line(row) for row in self.rows])


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (ru_maxrss is KiB on Linux, B on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


# ----------------------------------------------------------------------------- timing

def seconds(fn: Callable[[], Any]) -> float:
    """Wall-clock seconds of one call of ``fn``, until every array it returns is ready."""
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def interleaved(tasks: dict[str, Callable[[], Any]], rounds: int, warmup: int | None = None) -> dict[str, list[float]]:
    """Seconds per call of each task over ``rounds`` rounds, after ``warmup`` untimed rounds.

    Every round calls every task once; odd rounds go in reverse order, so a drift in machine
    speed affects all tasks alike. ``warmup`` defaults to ``--warmup``.
    """
    for _ in range(FLAGS.warmup if warmup is None else warmup):
        for fn in tasks.values():
            jax.block_until_ready(fn())
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for r in range(rounds):
        order = list(tasks.items())
        for name, fn in (order if r % 2 == 0 else order[::-1]):
            times[name].append(seconds(fn))
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def median_ratio(numerators: list[float], denominators: list[float]) -> float:
    """Median over rounds of the per-round ratio (the robust form of a ratio under drift)."""
    return median([n / d for n, d in zip(numerators, denominators)])


def xla_cost(compiled) -> dict[str, float]:
    """'flops' and 'bytes accessed' from XLA's cost analysis of a compiled program (summed
    if the JAX version returns one dict per HLO module); {} if unavailable."""
    analysis = compiled.cost_analysis()
    if not analysis:
        return {}
    entries = analysis if isinstance(analysis, (list, tuple)) else [analysis]
    return {key: sum(float(entry.get(key, 0.0)) for entry in entries)
            for key in ("flops", "bytes accessed")}


# ----------------------------------------------------------------------------- set-up

def build_config(chunk_calls: int) -> TrainConfig:
    """The product's static settings with the size flags applied. ``episodes`` is set so
    that ``chunk_calls`` chunks never reach padding (episode indices ≥ episodes are no-ops)."""
    env_params = env.EnvParams(n_agents=FLAGS.n_agents, steps_per_episode=FLAGS.steps_per_episode)
    return TrainConfig(env=env_params, episodes=max(TrainConfig.episodes, chunk_calls * FLAGS.episodes),
                       batch_size=FLAGS.batch_size, replay_capacity=FLAGS.replay_capacity,
                       actor_update=FLAGS.actor_update)


def lane_hparams(n_lanes: int) -> HyperParams:
    """(G,) float32 hyperparameters cycling through the paper's 16 (actor LR, critic LR) pairs."""
    pairs = [(a, c) for a in PAPER_LRS for c in PAPER_LRS]
    actor, critic = zip(*(pairs[i % len(pairs)] for i in range(n_lanes)))
    shared = HyperParams(actor_lr=1.0, critic_lr=1.0).as_arrays()
    lanes = jax.tree.map(lambda v: jnp.full(n_lanes, v, v.dtype), shared)
    return lanes.replace(actor_lr=jnp.asarray(actor, jnp.float32), critic_lr=jnp.asarray(critic, jnp.float32))


def take_lanes(tree, lanes: slice | int):
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


def make_fixture(config: TrainConfig) -> Fixture:
    """Initial state of lane 0, a replay filled by real exploring episodes, one batch from it."""
    networks = make_networks(config.env.n_agents, config.actor_hidden, config.critic_hidden)
    hparams = take_lanes(lane_hparams(1), 0)
    state = jax.jit(make_trainer(config).init)(jax.random.key(0), hparams)

    def episode(memory, key, world, learner, hparams, epsilon):
        memory, _, summary = rollout.training_episode(key, world, learner, memory, networks, config, hparams,
                                                      epsilon)
        return memory, summary

    act = jax.jit(episode, donate_argnums=0)
    sample = jax.jit(lambda memory, key: replay.sample(memory, key, config.batch_size)[1:])
    memory = state.memory
    for episode in range(FLAGS.fill_episodes):
        memory, _ = act(memory, jax.random.fold_in(state.key, episode), state.world, state.learner,
                        hparams, config.epsilon(episode))
    batch, _, weights = sample(memory, jax.random.key(1))
    return Fixture(config=config, networks=networks, hparams=hparams, learner=state.learner,
                   world=state.world, eval_key=state.eval_key, memory={"memory": memory}, act=act,
                   sample=sample, batch=batch, weights=weights)


@dataclasses.dataclass
class TrainStepProgram:
    """A compiled train step over ``lanes`` lanes (1: unbatched) and the arguments it is timed on."""

    lanes: int
    label: str
    compiled: Any
    args: tuple

    def __call__(self):
        return self.compiled(*self.args)


def compile_train_step(fixture: Fixture, n_lanes: int | None) -> TrainStepProgram:
    """The jitted ``learner.train_step``: unbatched if ``n_lanes`` is None, else vmapped over
    G lanes, each with its own learner copy, its own replay batch and (G,) hyperparameters."""
    config, networks = fixture.config, fixture.networks

    def step(learner, batch, weights, hparams):
        return train_step(learner, batch, weights, hparams, networks, config)

    if n_lanes is None:
        args = (fixture.learner, fixture.batch, fixture.weights, fixture.hparams)
        return TrainStepProgram(1, "1 lane", jax.jit(step).lower(*args).compile(), args)
    sample_lanes = jax.jit(jax.vmap(fixture.sample, in_axes=(None, 0)))
    batches, _, weights = sample_lanes(fixture.memory["memory"], jax.random.split(jax.random.key(2), n_lanes))
    args = (stack_lanes(fixture.learner, n_lanes), batches, weights, lane_hparams(n_lanes))
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


def compile_grid(config: TrainConfig, n_lanes: int) -> GridProgram:
    """Lowers and compiles the grid chunk program for ``n_lanes`` lanes, timing each stage."""
    program = grid.make_grid(config)
    sharding = grid.lane_sharding(n_lanes)
    init = jax.jit(program.init, out_shardings=sharding)
    hparams = jax.device_put(lane_hparams(n_lanes), sharding)
    state_shape = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
                               jax.eval_shape(program.init, lane_keys(n_lanes), hparams))
    episodes = jnp.arange(FLAGS.episodes, dtype=jnp.int32)
    start = time.perf_counter()
    lowered = jax.jit(program.run_chunk, donate_argnums=0).lower(state_shape, episodes, hparams)
    lower_s = time.perf_counter() - start
    start = time.perf_counter()
    compiled = lowered.compile()
    compile_s = time.perf_counter() - start
    return GridProgram(n_lanes, compiled, lower_s, compile_s, init, sharding)


def lane_keys(n_lanes: int):
    """One seed for every lane, as in the product's single-seed sweep (same start per lane)."""
    return jax.vmap(lambda _: jax.random.key(0))(jnp.zeros(n_lanes))


class ChunkRunner:
    """Runs consecutive chunks of episodes with one compiled grid program on blocks of its
    lane width, ``workers`` blocks at a time on host threads (``grid.run_blocks``, as the
    sweep does). Each call = one chunk of ``FLAGS.episodes`` episodes for every block."""

    def __init__(self, program: GridProgram, hparams: HyperParams, total_episodes: int, workers: int):
        self.program, self.total_episodes, self.next_episode = program, total_episodes, 0
        self.hparams = [jax.device_put(h, program.sharding) for h in grid.split_lanes(hparams, program.lanes)]
        self.states = [program.init(lane_keys(program.lanes), h) for h in self.hparams]
        self.pool = ThreadPoolExecutor(workers)

    def __call__(self):
        chunk = FLAGS.episodes
        if self.next_episode + chunk > self.total_episodes:
            raise RuntimeError("the benchmark would run padding episodes; raise TrainConfig.episodes")
        episodes = jnp.arange(self.next_episode, self.next_episode + chunk, dtype=jnp.int32)
        self.states, _ = grid.run_blocks(self.pool, self.program.compiled, self.states, episodes, self.hparams)
        jax.block_until_ready(self.states)
        self.next_episode += chunk
        return self.states


class Bench:
    """Flag-derived settings and the programs several sections share, built on first use."""

    def __init__(self):
        self.n_lanes = FLAGS.lanes
        self.grid_calls = FLAGS.warmup + FLAGS.repeats  # chunks each grid state runs
        self.config = build_config(self.grid_calls)
        self.report = Report()

    @functools.cached_property
    def fixture(self) -> Fixture:
        return make_fixture(self.config)

    @functools.cached_property
    def train_steps(self) -> tuple[TrainStepProgram, TrainStepProgram]:
        """(1 lane unbatched, G lanes vmapped)."""
        return compile_train_step(self.fixture, None), compile_train_step(self.fixture, self.n_lanes)

    @functools.cached_property
    def grids(self) -> tuple[GridProgram, GridProgram]:
        """(1-lane grid, G-lane grid), both compiled from ``grid.make_grid(config)``."""
        return compile_grid(self.config, 1), compile_grid(self.config, self.n_lanes)


# ----------------------------------------------------------------------------- sections

def random_capped_selection(key, proposed, max_accepted: int):
    """A uniformly random subset of at most ``max_accepted`` proposers: bool (..., N) → 0/1 float32."""
    scores = jnp.where(proposed, jax.random.uniform(key, proposed.shape), -1.0)
    rank = jnp.argsort(jnp.argsort(-scores, axis=-1), axis=-1)
    return (proposed & (rank < max_accepted)).astype(jnp.float32)


def make_random_episode(params: env.EnvParams, n_envs: int) -> Callable:
    """Jitted (key, states) → (states, rewards (T, n_envs)): a ``lax.scan`` of one episode of
    ``env.step`` vmapped over ``n_envs`` environments, with random actions: actor outputs
    U(-1, 1), proposal iff output 0 ≥ 0, at most ``max_accepted`` proposals accepted at random."""
    step_all = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def one_step(states, key):
        k_outputs, k_select, k_step = jax.random.split(key, 3)
        outputs = jax.random.uniform(k_outputs, (n_envs, params.n_agents, env.ACTION_DIM), minval=-1.0, maxval=1.0)
        selected = random_capped_selection(k_select, outputs[..., 0] >= 0, params.max_accepted)
        actions = jax.vmap(env.to_env_action)(selected, outputs)
        _, states, reward, _, _ = step_all(jax.random.split(k_step, n_envs), states, actions, params)
        return states, reward

    def episode(key, states):
        return jax.lax.scan(one_step, states, jax.random.split(key, params.steps_per_episode))

    return jax.jit(episode)


def section_env(bench: Bench) -> None:
    """Environment steps/s of ``env.step`` alone (vmapped, scanned, random actions)."""
    params, n_envs = bench.config.env, FLAGS.envs
    worlds = jax.jit(jax.vmap(env.make_world, in_axes=(0, None)), static_argnums=1)(
        jax.random.split(jax.random.key(3), n_envs), params)
    _, states = jax.jit(jax.vmap(env.reset, in_axes=(0, 0, None)), static_argnums=2)(
        jax.random.split(jax.random.key(4), n_envs), worlds, params)
    episode = make_random_episode(params, n_envs)
    calls = iter(range(1 << 30))
    times = interleaved({"episode": lambda: episode(jax.random.key(next(calls)), states)}, FLAGS.repeats)
    t = median(times["episode"])
    steps = n_envs * params.steps_per_episode
    r = bench.report
    r.note("env", f"random actions: outputs U(-1, 1), an agent proposes iff its first output ≥ 0, "
                  f"at most {params.max_accepted} proposals per environment accepted at random")
    r.number("env", f"episode of {n_envs} envs × {params.steps_per_episode} steps", t * 1e3, "ms")
    r.number("env", "environment steps/s", steps / t, "env steps/s", ",.0f")
    r.number("env", "agent-steps/s", steps * params.n_agents / t, "agent steps/s", ",.0f")


def section_train(bench: Bench) -> None:
    """Train steps/s of the jitted ``learner.train_step``, 1 lane vs G lanes vmapped."""
    one, many = bench.train_steps
    times = interleaved({"1": one, "G": many}, FLAGS.repeats * FLAGS.calls)
    t1, tg = median(times["1"]), median(times["G"])
    r, g, label = bench.report, many.lanes, many.label
    r.number("train", "1 lane: time per train step", t1 * 1e3, "ms", ",.3f")
    r.number("train", "1 lane: train steps/s", 1 / t1, "steps/s", ",.1f")
    r.number("train", f"{label}: time per call", tg * 1e3, "ms", ",.3f")
    r.number("train", f"{label}: train steps/s (one per lane)", g / tg, "steps/s", ",.1f")
    r.number("train", f"{label}: time per lane", tg / g * 1e3, "ms/lane", ",.3f")
    r.number("train", f"{label} vs {g} × 1 lane: speedup", median_ratio(
        [g * a for a in times["1"]], times["G"]), "×", ",.2f")


def section_grid(bench: Bench) -> None:
    """End-to-end config-episodes/s of the grid chunk, three ways: G lanes in one call; G
    one-lane calls of the 1-lane program, ``grid.default_workers`` at a time on threads (the
    sweep's CPU default); the same G calls one after another."""
    single, multi = bench.grids
    g, chunk, hparams = bench.n_lanes, FLAGS.episodes, lane_hparams(bench.n_lanes)
    workers = grid.default_workers(g)
    ways = {
        f"{g} lanes in one call": ChunkRunner(multi, hparams, bench.config.episodes, 1),
        f"{g} one-lane calls, {workers} at a time": ChunkRunner(single, hparams, bench.config.episodes, workers),
        f"{g} one-lane calls, one after another": ChunkRunner(single, hparams, bench.config.episodes, 1),
    }
    times = interleaved(ways, FLAGS.repeats)
    config_episodes = g * chunk
    r = bench.report
    for way, t in times.items():
        r.number("grid", f"{way}: one chunk of {chunk} episodes", median(t), "s", ",.3f")
        r.number("grid", f"{way}: config-episodes/s", config_episodes / median(t), "config-episodes/s")
        r.number("grid", f"{way}: time per config-episode", median(t) / config_episodes * 1e3, "ms", ",.3f")
    one_call, threaded, sequential = times.values()
    r.number("grid", f"speedup of {g} lanes in one call over {g} sequential 1-lane calls",
             1 / median_ratio(one_call, sequential), "×", ",.2f")
    r.number("grid", f"speedup of {g} one-lane calls {workers} at a time over {g} sequential ones",
             1 / median_ratio(threaded, sequential), "×", ",.2f")
    r.number("grid", f"speedup of {g} one-lane calls {workers} at a time over {g} lanes in one call",
             1 / median_ratio(threaded, one_call), "×", ",.2f")
    r.shared["grid_1lane_episode_s"] = median(sequential) / config_episodes


def section_compile(bench: Bench) -> None:
    """Trace+lower and XLA compile seconds of the grid chunk program, apart from any run."""
    r = bench.report
    for program in bench.grids:
        label = f"grid chunk ({program.lanes} lane{'s' if program.lanes > 1 else ''}, {FLAGS.episodes} episodes)"
        r.number("compile", f"{label}: trace + lower", program.lower_s, "s", ",.2f")
        r.number("compile", f"{label}: XLA compile", program.compile_s, "s", ",.2f")
    if jax.config.jax_compilation_cache_dir:
        r.note("compile", f"persistent compilation cache on ({jax.config.jax_compilation_cache_dir}): "
                          "compile times may be cache hits")


def section_flops(bench: Bench) -> None:
    """XLA's FLOP count of one train step, achieved GFLOP/s, and a large jnp.dot as the peak."""
    one, many = bench.train_steps
    n = FLAGS.matmul_size
    a, b = (jax.random.normal(k, (n, n), jnp.float32) for k in jax.random.split(jax.random.key(5)))
    dot = jax.jit(jnp.dot).lower(a, b).compile()
    dot_flops = 2.0 * n ** 3
    tasks = {"dot": lambda: dot(a, b)}
    for i, program in enumerate((one, many)):
        tasks[f"train {i}"] = functools.partial(lambda p: [p() for _ in range(FLAGS.calls)], program)
    # The sweep's CPU way: 1-lane train steps, one per worker thread at a time.
    workers = grid.default_workers(bench.n_lanes)
    pool = ThreadPoolExecutor(workers)
    tasks["train threaded"] = lambda: list(pool.map(
        lambda _: jax.block_until_ready([one() for _ in range(FLAGS.calls)]), range(workers)))
    times = interleaved(tasks, FLAGS.repeats)
    peak = dot_flops / median(times["dot"]) / 1e9
    r = bench.report
    r.number("flops", f"jnp.dot {n}×{n} f32: time", median(times["dot"]) * 1e3, "ms", ",.2f")
    r.number("flops", f"jnp.dot {n}×{n} f32: achieved (peak reference)", peak, "GFLOP/s", ",.1f")
    for i, program in enumerate((one, many)):
        cost = xla_cost(program.compiled)
        lanes = program.label
        if "flops" not in cost:
            r.note("flops", f"no XLA cost analysis for the {lanes} train step")
            continue
        t = median(times[f"train {i}"]) / FLAGS.calls
        gflops = cost["flops"] / t / 1e9
        r.number("flops", f"train step ({lanes}): XLA cost-analysis FLOPs per call", cost["flops"] / 1e6, "MFLOP")
        r.number("flops", f"train step ({lanes}): bytes accessed per call", cost["bytes accessed"] / 2**20, "MiB")
        r.number("flops", f"train step ({lanes}): time per call", t * 1e3, "ms", ",.3f")
        r.number("flops", f"train step ({lanes}): achieved", gflops, "GFLOP/s", ",.2f")
        r.number("flops", f"train step ({lanes}): share of the jnp.dot peak", 100 * gflops / peak, "%", ",.2f")
    cost = xla_cost(one.compiled)
    if "flops" in cost:
        label = f"1 lane, {workers} calls at a time on threads"
        t = median(times["train threaded"]) / (FLAGS.calls * workers)
        gflops = cost["flops"] / t / 1e9
        r.number("flops", f"train step ({label}): time per step", t * 1e3, "ms", ",.3f")
        r.number("flops", f"train step ({label}): achieved", gflops, "GFLOP/s", ",.2f")
        r.number("flops", f"train step ({label}): share of the jnp.dot peak", 100 * gflops / peak, "%", ",.2f")
    if bench.config.actor_update == "sequential":
        r.note("flops", "sequential actor update: XLA counts a loop body once, not once per agent")


def profile_parts(bench: Bench) -> dict[str, Callable[[], Any]]:
    """The pieces of one episode of one lane, each a separately jitted zero-argument call."""
    fx, config = bench.fixture, bench.config
    networks, learner, batch, weights, hparams = fx.networks, fx.learner, fx.batch, fx.weights, fx.hparams
    targets_fn = jax.jit(lambda learner, batch, hp: td_targets(
        networks, learner, batch.reward, batch.next_obs, batch.done, hp))
    targets = targets_fn(learner, batch, hparams)
    critic_fn = jax.jit(lambda params, batch, targets, weights: jax.value_and_grad(critic_loss, has_aux=True)(
        params, networks, batch, targets, weights, config.env.max_accepted))
    actor_fn = jax.jit(lambda params, critic_params, obs, weights: jax.grad(actor_loss, has_aux=True)(
        params, networks, critic_params, obs, weights, hparams))
    update_fn = jax.jit(replay.update_priorities, donate_argnums=0)
    evaluate_fn = jax.jit(lambda key, world, learner: rollout.evaluate(key, world, learner, networks, config,
                                                                       hparams))
    errors = bench.train_steps[0]()[1]
    indices = jnp.arange(config.batch_size, dtype=jnp.int32) % jnp.maximum(fx.memory["memory"].size, 1)
    counter = iter(range(1 << 30))

    def acting():
        fx.memory["memory"], summary = fx.act(fx.memory["memory"], jax.random.key(next(counter)), fx.world,
                                              learner, hparams, config.epsilon(0))
        return summary

    def priorities():
        fx.memory["memory"] = update_fn(fx.memory["memory"], indices, errors)
        return fx.memory["memory"].priorities

    return {
        "acting (rollout.training_episode)": acting,
        "replay sampling (replay.sample)": lambda: fx.sample(fx.memory["memory"], jax.random.key(next(counter))),
        "td targets": lambda: targets_fn(learner, batch, hparams),
        "critic loss + grad": lambda: critic_fn(learner.critic_params, batch, targets, weights),
        "actor loss + grad": lambda: actor_fn(learner.actor_params, learner.critic_params, batch.obs, weights),
        "whole train step (learner.train_step)": bench.train_steps[0],
        "priority update (replay.update_priorities)": priorities,
        "greedy evaluation (rollout.evaluate)": lambda: evaluate_fn(fx.eval_key, fx.world, learner),
    }


def section_profile(bench: Bench) -> None:
    """One lane's episode split into separately jitted parts, each timed on its own."""
    parts = profile_parts(bench)
    times = {name: median(t) for name, t in interleaved(parts, FLAGS.repeats * FLAGS.calls).items()}
    r, config = bench.report, bench.config
    r.note("profile", "each part is jitted and called on its own, so each time includes a call's "
                      "dispatch overhead; inside the compiled program the parts are fused and "
                      "carry no such overhead")
    for name, t in times.items():
        r.number("profile", name, t * 1e3, "ms", ",.3f")
    if config.actor_update == "sequential":
        r.note("profile", f"sequential actor update: the train step computes the actor loss + grad "
                          f"{config.env.n_agents} times")
    per_episode = (times["acting (rollout.training_episode)"] + times["replay sampling (replay.sample)"]
                   + times["whole train step (learner.train_step)"]
                   + times["priority update (replay.update_priorities)"]
                   + times["greedy evaluation (rollout.evaluate)"] / config.eval_every)
    r.number("profile", f"sum per episode (acting + sampling + train step + priority update "
                        f"+ evaluation/{config.eval_every})", per_episode * 1e3, "ms", ",.3f")
    if "grid_1lane_episode_s" in r.shared:
        measured = r.shared["grid_1lane_episode_s"]
        r.number("profile", "measured 1-lane grid time per config-episode (grid section)", measured * 1e3, "ms", ",.3f")
        r.number("profile", "sum of parts / measured", per_episode / measured, "ratio", ",.2f")


SECTION_FUNCTIONS = {"env": section_env, "train": section_train, "grid": section_grid,
                     "compile": section_compile, "flops": section_flops, "profile": section_profile}


# ----------------------------------------------------------------------------- main

def print_header(bench: Bench) -> None:
    config = bench.config
    print(f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"python {platform.python_version()}, jax {jax.__version__}, jaxlib {jaxlib.__version__}, "
          f"flax {flax.__version__}, optax {optax.__version__}, numpy {np.__version__}")
    print(f"backend: {jax.default_backend()}; devices: {jax.devices()}")
    print(f"os.cpu_count(): {os.cpu_count()}; usable by this process: {len(os.sched_getaffinity(0))}; "
          f"XLA_FLAGS: {os.environ.get('XLA_FLAGS', '(unset)')}")
    print(f"settings: {config.env.n_agents} agents, {config.env.steps_per_episode} steps/episode, {FLAGS.lanes} lanes, "
          f"{FLAGS.episodes} episodes per chunk, batch {config.batch_size}, replay {config.replay_capacity}, "
          f"actor {config.actor_hidden}, critic {config.critic_hidden}, actor update {config.actor_update}, "
          f"eval every {config.eval_every} episodes × {config.eval_episodes}; {FLAGS.warmup} warm-up + "
          f"{FLAGS.repeats} timed rounds "
          f"(× {FLAGS.calls} calls for millisecond timings); sections {','.join(FLAGS.sections)}", flush=True)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    unknown = set(FLAGS.sections) - set(SECTIONS)
    if unknown:
        raise app.UsageError(f"unknown sections {sorted(unknown)}; choose from {','.join(SECTIONS)}")
    logging.set_verbosity(logging.WARNING)  # no backend-probing INFO lines
    bench = Bench()
    print_header(bench)
    for name in SECTIONS:  # fixed order: the profile compares with the grid section's number
        if name in FLAGS.sections:
            print(f"--- {name}", flush=True)
            start = time.perf_counter()
            SECTION_FUNCTIONS[name](bench)
            print(f"[{name}] section wall time {time.perf_counter() - start:.1f} s, "
                  f"peak RSS so far {peak_rss_mb():,.0f} MB", flush=True)
    bench.report.number("rss", "peak RSS (resource.getrusage ru_maxrss)", peak_rss_mb(), "MB", ",.0f")
    print("\nsummary")
    print(bench.report.table())


if __name__ == "__main__":
    app.run(main)
