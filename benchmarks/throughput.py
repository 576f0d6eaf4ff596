"""Throughput of jaxmadrl's compiled programs, every section measured in this one process.

    python benchmarks/throughput.py                          # everything, full size
    python benchmarks/throughput.py --sections=grid,compile  # some sections only
    python benchmarks/throughput.py --n_agents=3 --lanes=2 --episodes=4 --repeats=2  # smoke run

Sections (``--sections``): env, train, grid, compile, flops, profile; the peak RSS is
always printed. Every timed call is preceded by warm-up calls, waits for its results
(``jax.block_until_ready``) and is repeated; the numbers are medians. Measurements that are
compared with each other are taken in alternating rounds (A B, B A, A B, ...), so a slow
spell of the machine hits both sides alike. See benchmarks/README.md.

The G = ``--lanes`` lanes are those of a sweep: the first G lanes of a ``SweepDefinition``
over the paper's 4×4 (actor LR, critic LR) grid with ceil(G / 16) seeds (lanes 0–15 are
seed 0's grid, 16–31 seed 1's, ...), so any G works: ``--lanes=2`` is seed 0 at actor LR
1e-4, critic LRs 1e-4 and 1e-3. Hyperparameters, lane keys and the static program are the
definition's; the size flags default to ``TrainConfig()``'s settings.

This file holds the flags, the sections and ``main``; what is measured (the lanes, the
compiled programs) is in ``programs.py``, how it is timed and reported in ``timing.py``,
both imported from this script's folder.
"""

from __future__ import annotations

import functools
import time
from concurrent.futures import ThreadPoolExecutor
from statistics import median
from typing import Any, Callable

import jax
import jax.numpy as jnp
from absl import app, flags, logging

# Siblings in benchmarks/, which ``python benchmarks/throughput.py`` puts first on sys.path.
from programs import Bench, ChunkRunner
from timing import Report, interleaved, median_ratio, peak_rss_mb, print_environment, xla_cost

from jaxmadrl.agents import replay
from jaxmadrl.agents.ccm import rollout
from jaxmadrl.agents.ccm.losses import actor_loss, critic_loss, td_targets
from jaxmadrl.cli import common
from jaxmadrl.envs import mec as env
from jaxmadrl.study import settings
from jaxmadrl.study.grid import default_workers

SECTIONS = ("env", "train", "grid", "compile", "flops", "profile")
STATIC_FLAGS = ("n_agents", "steps_per_episode", "batch_size", "replay_capacity", "actor_update")  # by name

flags.DEFINE_list("sections", list(SECTIONS), f"Sections to run, any of {','.join(SECTIONS)}.")
flags.DEFINE_integer("lanes", 16, "G: configurations vmapped together (the paper's 4×4 grid is 16).", lower_bound=1)
flags.DEFINE_integer("episodes", 20, "Episodes per lane in one timed call of the grid chunk.", lower_bound=1)
flags.DEFINE_integer("repeats", 5, "Timed rounds per measurement (the median is reported).", lower_bound=1)
flags.DEFINE_integer("warmup", 2, "Untimed rounds before every measurement (first calls run slower).", lower_bound=1)
flags.DEFINE_integer("calls", 10, "Timed calls per round of the millisecond measurements.", lower_bound=1)
flags.DEFINE_integer("envs", 1024, "Environments vmapped in the env section.", lower_bound=1)
flags.DEFINE_integer("fill_episodes", 10, "Exploring episodes that fill the replay before timing.", lower_bound=1)
flags.DEFINE_integer("matmul_size", 2048, "n of the n×n float32 jnp.dot taken as the peak.", lower_bound=1)
for _name in STATIC_FLAGS:  # named, described and defaulting as the product's settings
    _setting = settings.STATIC[_name]
    if _setting.choices:
        flags.DEFINE_enum(_name, _setting.default, list(_setting.choices), common.as_sentence(_setting.help))
    else:
        flags.DEFINE_integer(_name, _setting.default, common.as_sentence(_setting.help), lower_bound=1)
FLAGS = flags.FLAGS


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
        jax.random.split(jax.random.key(3), n_envs), params
    )
    _, states = jax.jit(jax.vmap(env.reset, in_axes=(0, 0, None)), static_argnums=2)(
        jax.random.split(jax.random.key(4), n_envs), worlds, params
    )
    episode = make_random_episode(params, n_envs)
    calls = iter(range(1 << 30))
    times = interleaved({"episode": lambda: episode(jax.random.key(next(calls)), states)}, FLAGS.repeats, FLAGS.warmup)
    t = median(times["episode"])
    steps = n_envs * params.steps_per_episode
    r = bench.report
    r.note(
        "env",
        f"random actions: outputs U(-1, 1), an agent proposes iff its first output ≥ 0, "
        f"at most {params.max_accepted} proposals per environment accepted at random",
    )
    r.number("env", f"episode of {n_envs} envs × {params.steps_per_episode} steps", t * 1e3, "ms")
    r.number("env", "environment steps/s", steps / t, "env steps/s", ",.0f")
    r.number("env", "agent-steps/s", steps * params.n_agents / t, "agent steps/s", ",.0f")


def section_train(bench: Bench) -> None:
    """Train steps/s of the jitted ``learner.train_step``, 1 lane vs G lanes vmapped."""
    one, many = bench.train_steps
    times = interleaved({"1": one, "G": many}, FLAGS.repeats * FLAGS.calls, FLAGS.warmup)
    t1, tg = median(times["1"]), median(times["G"])
    r, g, label = bench.report, many.lanes, many.label
    r.number("train", "1 lane: time per train step", t1 * 1e3, "ms", ",.3f")
    r.number("train", "1 lane: train steps/s", 1 / t1, "steps/s", ",.1f")
    r.number("train", f"{label}: time per call", tg * 1e3, "ms", ",.3f")
    r.number("train", f"{label}: train steps/s (one per lane)", g / tg, "steps/s", ",.1f")
    r.number("train", f"{label}: time per lane", tg / g * 1e3, "ms/lane", ",.3f")
    r.number(
        "train", f"{label} vs {g} × 1 lane: speedup", median_ratio([g * a for a in times["1"]], times["G"]), "×", ",.2f"
    )


def section_grid(bench: Bench) -> None:
    """End-to-end config-episodes/s of the grid chunk, three ways: G lanes in one call; G
    one-lane calls of the 1-lane program, ``grid.default_workers`` at a time on threads (the
    sweep's CPU default); the same G calls one after another."""
    single, multi = bench.grids
    g, chunk, workers = bench.n_lanes, FLAGS.episodes, default_workers(bench.n_lanes)
    ways = {
        f"{g} lanes in one call": ChunkRunner(multi, bench, 1),
        f"{g} one-lane calls, {workers} at a time": ChunkRunner(single, bench, workers),
        f"{g} one-lane calls, one after another": ChunkRunner(single, bench, 1),
    }
    times = interleaved(ways, FLAGS.repeats, FLAGS.warmup)
    config_episodes = g * chunk
    r = bench.report
    for way, t in times.items():
        r.number("grid", f"{way}: one chunk of {chunk} episodes", median(t), "s", ",.3f")
        r.number("grid", f"{way}: config-episodes/s", config_episodes / median(t), "config-episodes/s")
        r.number("grid", f"{way}: time per config-episode", median(t) / config_episodes * 1e3, "ms", ",.3f")
    one_call, threaded, sequential = times.values()
    r.number(
        "grid",
        f"speedup of {g} lanes in one call over {g} sequential 1-lane calls",
        1 / median_ratio(one_call, sequential),
        "×",
        ",.2f",
    )
    r.number(
        "grid",
        f"speedup of {g} one-lane calls {workers} at a time over {g} sequential ones",
        1 / median_ratio(threaded, sequential),
        "×",
        ",.2f",
    )
    r.number(
        "grid",
        f"speedup of {g} one-lane calls {workers} at a time over {g} lanes in one call",
        1 / median_ratio(threaded, one_call),
        "×",
        ",.2f",
    )
    r.shared["grid_1lane_episode_s"] = median(sequential) / config_episodes


def section_compile(bench: Bench) -> None:
    """Trace+lower and XLA compile seconds of the grid chunk program, apart from any run."""
    r = bench.report
    for program in bench.grids:
        label = f"grid chunk ({program.lanes} lane{'s' if program.lanes > 1 else ''}, {FLAGS.episodes} episodes)"
        r.number("compile", f"{label}: trace + lower", program.lower_s, "s", ",.2f")
        r.number("compile", f"{label}: XLA compile", program.compile_s, "s", ",.2f")
    if jax.config.jax_compilation_cache_dir:
        r.note(
            "compile",
            f"persistent compilation cache on ({jax.config.jax_compilation_cache_dir}): "
            "compile times may be cache hits",
        )


def report_achieved(r: Report, label: str, flops: float, t: float, per: str, peak: float) -> None:
    """Time per ``per`` (``t`` s), achieved GFLOP/s and share of the ``peak`` (GFLOP/s) of a
    train step of ``flops`` FLOPs."""
    gflops = flops / t / 1e9
    r.number("flops", f"train step ({label}): time per {per}", t * 1e3, "ms", ",.3f")
    r.number("flops", f"train step ({label}): achieved", gflops, "GFLOP/s", ",.2f")
    r.number("flops", f"train step ({label}): share of the jnp.dot peak", 100 * gflops / peak, "%", ",.2f")


def section_flops(bench: Bench) -> None:
    """XLA's FLOP count of one train step, achieved GFLOP/s, and a large jnp.dot as the peak."""
    one, many = bench.train_steps
    n = FLAGS.matmul_size
    a, b = (jax.random.normal(k, (n, n), jnp.float32) for k in jax.random.split(jax.random.key(5)))
    dot = jax.jit(jnp.dot).lower(a, b).compile()
    tasks = {"dot": lambda: dot(a, b)}
    for program in (one, many):
        tasks[program.label] = functools.partial(lambda p: [p() for _ in range(FLAGS.calls)], program)
    # The sweep's CPU way: 1-lane train steps, one per worker thread at a time.
    workers = default_workers(bench.n_lanes)
    pool = ThreadPoolExecutor(workers)
    tasks["train threaded"] = lambda: list(
        pool.map(lambda _: jax.block_until_ready([one() for _ in range(FLAGS.calls)]), range(workers))
    )
    times = {name: median(t) for name, t in interleaved(tasks, FLAGS.repeats, FLAGS.warmup).items()}
    peak = 2.0 * n**3 / times["dot"] / 1e9
    r = bench.report
    r.number("flops", f"jnp.dot {n}×{n} f32: time", times["dot"] * 1e3, "ms", ",.2f")
    r.number("flops", f"jnp.dot {n}×{n} f32: achieved (peak reference)", peak, "GFLOP/s", ",.1f")
    for program in (one, many):
        cost, label = xla_cost(program.compiled), program.label
        if "flops" not in cost:
            r.note("flops", f"no XLA cost analysis for the {label} train step")
            continue
        r.number("flops", f"train step ({label}): XLA cost-analysis FLOPs per call", cost["flops"] / 1e6, "MFLOP")
        r.number("flops", f"train step ({label}): bytes accessed per call", cost["bytes accessed"] / 2**20, "MiB")
        report_achieved(r, label, cost["flops"], times[label] / FLAGS.calls, "call", peak)
    cost = xla_cost(one.compiled)
    if "flops" in cost:
        report_achieved(
            r,
            f"1 lane, {workers} calls at a time on threads",
            cost["flops"],
            times["train threaded"] / (FLAGS.calls * workers),
            "step",
            peak,
        )
    if bench.config.actor_update == "sequential":
        r.note("flops", "sequential actor update: XLA counts a loop body once, not once per agent")


def profile_parts(bench: Bench) -> dict[str, Callable[[], Any]]:
    """The pieces of one episode of one lane, each a separately jitted zero-argument call."""
    fx, config = bench.fixture, bench.config
    networks, learner, batch, weights, hparams = fx.networks, fx.learner, fx.batch, fx.weights, fx.hparams
    targets_fn = jax.jit(
        lambda learner, batch, hp: td_targets(networks, learner, batch.reward, batch.next_obs, batch.done, hp)
    )
    targets = targets_fn(learner, batch, hparams)
    critic_fn = jax.jit(
        lambda params, batch, targets, weights: jax.value_and_grad(critic_loss, has_aux=True)(
            params, networks, batch, targets, weights, config.env.max_accepted, hparams.full_normalisation
        )
    )
    actor_fn = jax.jit(
        lambda params, critic_params, obs, weights: jax.grad(actor_loss, has_aux=True)(
            params, networks, critic_params, obs, learner.actor_input_stats, weights, hparams
        )
    )
    update_fn = jax.jit(replay.update_priorities, donate_argnums=0)
    evaluate_fn = jax.jit(lambda key, world, learner: rollout.evaluate(key, world, learner, networks, config, hparams))
    errors = bench.train_steps[0]()[1]
    indices = jnp.arange(config.batch_size, dtype=jnp.int32) % jnp.maximum(fx.memory["memory"].size, 1)
    counter = iter(range(1 << 30))

    def acting():
        fx.memory["memory"], summary = fx.act(
            fx.memory["memory"], jax.random.key(next(counter)), fx.world, learner, hparams, config.epsilon(0)
        )
        return summary

    def priorities():
        fx.memory["memory"] = update_fn(fx.memory["memory"], indices, errors)
        return fx.memory["memory"].priorities

    return {
        "acting (training.explore_episode)": acting,
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
    times = {name: median(t) for name, t in interleaved(parts, FLAGS.repeats * FLAGS.calls, FLAGS.warmup).items()}
    r, config = bench.report, bench.config
    r.note(
        "profile",
        "each part is jitted and called on its own, so each time includes a call's "
        "dispatch overhead; inside the compiled program the parts are fused and "
        "carry no such overhead",
    )
    for name, t in times.items():
        r.number("profile", name, t * 1e3, "ms", ",.3f")
    if config.actor_update == "sequential":
        r.note(
            "profile",
            f"sequential actor update: the train step computes the actor loss + grad {config.env.n_agents} times",
        )
    per_episode = (
        times["acting (training.explore_episode)"]
        + times["replay sampling (replay.sample)"]
        + times["whole train step (learner.train_step)"]
        + times["priority update (replay.update_priorities)"]
        + times["greedy evaluation (rollout.evaluate)"] / config.eval_every
    )
    r.number(
        "profile",
        f"sum per episode (acting + sampling + train step + priority update + evaluation/{config.eval_every})",
        per_episode * 1e3,
        "ms",
        ",.3f",
    )
    if "grid_1lane_episode_s" in r.shared:
        measured = r.shared["grid_1lane_episode_s"]
        r.number("profile", "measured 1-lane grid time per config-episode (grid section)", measured * 1e3, "ms", ",.3f")
        r.number("profile", "sum of parts / measured", per_episode / measured, "ratio", ",.2f")


SECTION_FUNCTIONS = {
    "env": section_env,
    "train": section_train,
    "grid": section_grid,
    "compile": section_compile,
    "flops": section_flops,
    "profile": section_profile,
}


# ----------------------------------------------------------------------------- main


def make_bench() -> Bench:
    """The lanes and shared programs of the flags' settings."""
    return Bench(
        n_lanes=FLAGS.lanes,
        chunk=FLAGS.episodes,
        grid_calls=FLAGS.warmup + FLAGS.repeats,
        fill_episodes=FLAGS.fill_episodes,
        static={name: getattr(FLAGS, name) for name in STATIC_FLAGS},
    )


def print_header(bench: Bench) -> None:
    """The machine and software (``timing.print_environment``), then the settings."""
    config = bench.config
    print_environment()
    print(
        f"settings: {config.env.n_agents} agents, {config.env.steps_per_episode} steps/episode, {FLAGS.lanes} lanes, "
        f"{FLAGS.episodes} episodes per chunk, batch {config.batch_size}, replay {config.replay_capacity}, "
        f"actor {config.actor_hidden}, critic {config.critic_hidden}, actor update {config.actor_update}, "
        f"eval every {config.eval_every} episodes × {config.eval_episodes}; {FLAGS.warmup} warm-up + "
        f"{FLAGS.repeats} timed rounds "
        f"(× {FLAGS.calls} calls for millisecond timings); sections {','.join(FLAGS.sections)}",
        flush=True,
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    unknown = set(FLAGS.sections) - set(SECTIONS)
    if unknown:
        raise app.UsageError(f"unknown sections {sorted(unknown)}; choose from {','.join(SECTIONS)}")
    logging.set_verbosity(logging.WARNING)  # no backend-probing INFO lines
    bench = make_bench()
    print_header(bench)
    for name in SECTIONS:  # fixed order: the profile compares with the grid section's number
        if name in FLAGS.sections:
            print(f"--- {name}", flush=True)
            start = time.perf_counter()
            SECTION_FUNCTIONS[name](bench)
            print(
                f"[{name}] section wall time {time.perf_counter() - start:.1f} s, "
                f"peak RSS so far {peak_rss_mb():,.0f} MB",
                flush=True,
            )
    bench.report.number("rss", "peak RSS (resource.getrusage ru_maxrss)", peak_rss_mb(), "MB", ",.0f")
    print("\nsummary")
    print(bench.report.table())


if __name__ == "__main__":
    app.run(main)
