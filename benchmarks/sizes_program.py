"""Seed 004's ladder of network sizes as one masked program against one program per size,
side by side in one run: compile seconds and seconds per lane-episode of the chunk program,
the lanes run as a sweep runs them on this machine (one lane per call, a call per core at a
time on the CPU; all lanes in one call elsewhere).

    python benchmarks/sizes_program.py --learner=ddpg --episodes=4 --seeds=1

Every size's lane is the same in both: its own actor = critic widths, the same key; the
masked program builds every network at the ladder's largest widths (400, 300) and keeps each
lane's units alive (``networks.with_active_units``).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
from absl import app, flags

from jaxmadrl.agents.scaffold import episode_clock
from jaxmadrl.study import grid, lane_axis
from jaxmadrl.study.definition import SweepDefinition

LADDER = [(1, 1), (4, 4), (8, 8), (16, 16), (32, 32), (64, 64), (128, 128), (256, 256), (400, 300)]

flags.DEFINE_string("learner", "ddpg", "ddpg, td3, sac or ppo")
flags.DEFINE_string("domain", "gymnax:Pendulum-v1", "the environment")
flags.DEFINE_integer("episodes", 4, "episodes timed per lane (one chunk), after a first chunk that compiles")
flags.DEFINE_integer("seeds", 2, "lanes per size (2: a program per size keeps both cores busy)")
FLAGS = flags.FLAGS


def definition(sizes: list[tuple[int, int]]) -> SweepDefinition:
    """The ladder ``sizes`` (actor = critic) × seeds as variants of one sweep."""
    widths = lambda size: list(size)
    return SweepDefinition.from_dict(
        {
            "name": "sizes",
            "domain": FLAGS.domain,
            "learner": FLAGS.learner,
            "actor_lrs": [1e-3],
            "critic_lrs": [1e-3],
            "seeds": FLAGS.seeds,
            "episodes": 2 * FLAGS.episodes,
            "chunk": FLAGS.episodes,
            "episodes_before_train": 0,
            "eval_every": FLAGS.episodes,
            "actor_hidden": widths(sizes[-1]),
            "critic_hidden": widths(sizes[-1]),
            **(
                {"variants": {f"{a}-{b}": {"actor_hidden": [a, b], "critic_hidden": [a, b]} for a, b in sizes}}
                if len(sizes) > 1
                else {}
            ),
        }
    )


def timed_program(sweep: SweepDefinition) -> tuple[float, float]:
    """(compile seconds, seconds of one chunk) of the sweep's lanes run as a sweep runs them."""
    program, hparams, keys = grid.make_grid(sweep.train_config()), sweep.hyperparams(), sweep.lane_keys()
    width = grid.default_lanes_per_call(len(keys))
    states = [
        jax.jit(program.init)(k, h)
        for k, h in zip(lane_axis.split_lanes(keys, width), lane_axis.split_lanes(hparams, width))
    ]
    blocks = lane_axis.split_lanes(hparams, width)
    clocks = episode_clock(sweep.train, jnp.arange(sweep.chunk))
    start = time.perf_counter()
    chunk = jax.jit(program.run_chunk, donate_argnums=0).lower(states[0], clocks, blocks[0]).compile()
    compile_s = time.perf_counter() - start
    with ThreadPoolExecutor(grid.default_workers(len(states))) as pool:
        states, _ = grid.run_blocks(pool, chunk, states, clocks, blocks)  # warm
        clocks = episode_clock(sweep.train, jnp.arange(sweep.chunk, 2 * sweep.chunk))
        start = time.perf_counter()
        grid.run_blocks(pool, chunk, states, clocks, blocks)
    return compile_s, time.perf_counter() - start


def main(argv):
    del argv
    lane_episodes = len(LADDER) * FLAGS.seeds * FLAGS.episodes
    print(
        f"{FLAGS.learner} on {FLAGS.domain}, {len(LADDER)} sizes × {FLAGS.seeds} seed(s), "
        f"{FLAGS.episodes} episodes timed, {jax.default_backend()} backend, {grid.usable_cpus()} CPU(s)"
    )
    masked_compile, masked_run = timed_program(definition(LADDER))
    per_lane_episode = lambda seconds, episodes: f"{seconds / episodes * 1e3:.1f} ms per lane-episode"
    print(f"one masked program: compile {masked_compile:.1f} s, {per_lane_episode(masked_run, lane_episodes)}")
    per_size = [timed_program(definition([size])) for size in LADDER]
    for size, (compile_s, run_s) in zip(LADDER, per_size):
        print(f"  {size}: compile {compile_s:.1f} s, {per_lane_episode(run_s, FLAGS.seeds * FLAGS.episodes)}")
    compile_total, run_total = (sum(values) for values in zip(*per_size))
    print(
        f"one program per size: compile {compile_total:.1f} s in all, "
        f"{per_lane_episode(run_total, lane_episodes)} (the sizes one after another)"
    )
    ratio = f"{masked_run / run_total:.2f}× the run time, {masked_compile / compile_total:.2f}× the compile time"
    print(f"masked / per size: {ratio}")


if __name__ == "__main__":
    app.run(main)
