"""Train one learning-rate configuration and write its per-episode metrics and a summary.

    python -m jaxmadrl.train --actor_lr=1e-4 --critic_lr=1e-3 --episodes=2000 --out=DIR

DIR receives ``metrics.npz`` (one array per metric, leading axis = episode) and
``summary.json`` (settings, stopping episodes, final diagnostics, timings, and the
environment it was computed in: see ``provenance``). The run is
compiled once and executed in chunks of ``--chunk`` episodes, with a progress line each.
"""
from __future__ import annotations

import dataclasses
import pathlib
import shutil
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging

from jaxmadrl import cli, diagnostics, files, numerics, provenance, results
from jaxmadrl.config import HyperParams, TrainConfig
from jaxmadrl.env import EnvParams
from jaxmadrl.limits import SettingError, check_integer
from jaxmadrl.networks import ACTIVATION_NAMES
from jaxmadrl.training import make_trainer, seed_key

flags.DEFINE_float("actor_lr", 1e-4, "Adam learning rate of every client actor (finite, > 0).")
flags.DEFINE_float("critic_lr", 1e-3, "Adam learning rate of the master critic (finite, > 0).")
flags.DEFINE_integer("episodes", 2000, "Training episodes (>= 1).")
flags.DEFINE_integer("seed", 0, "Seed in [0, 2**32): weights, world and exploration; the same as the "
                     "sweep's seed of that number.")
flags.DEFINE_string("out", None, "Results directory; must not exist yet. "
                    "Default: sweeps/runs/train-<actor_lr>-<critic_lr>-<timestamp>.")
cli.define_training_flags()
flags.adopt_module_key_flags(cli)
flags.DEFINE_integer("batch_size", 64, "Replay batch size (<= replay_capacity).")
flags.DEFINE_integer("replay_capacity", 10_000, "Prioritised replay capacity.")
flags.DEFINE_integer("eval_every", 10, "Greedy evaluation after every this many episodes.")
flags.DEFINE_integer("chunk", 100, "Episodes per compiled call; one progress line per chunk.")
FLAGS = flags.FLAGS


def build_run() -> tuple[TrainConfig, HyperParams]:
    """The configuration the flags describe; UsageFailure naming the flag of a bad value."""
    try:
        return _settings_from_flags()
    except SettingError as error:
        raise cli.UsageFailure(f"--{error.setting} {error.problem}")


def _settings_from_flags() -> tuple[TrainConfig, HyperParams]:
    check_integer("chunk", FLAGS.chunk)
    config = TrainConfig(
        env=EnvParams(n_agents=FLAGS.n_agents, steps_per_episode=FLAGS.steps_per_episode, mode=FLAGS.mode,
                      scaling=FLAGS.scaling),
        episodes=FLAGS.episodes, batch_size=FLAGS.batch_size, replay_capacity=FLAGS.replay_capacity,
        eval_every=FLAGS.eval_every, actor_update=FLAGS.actor_update,
        actor_hidden=cli.widths("actor_hidden"), critic_hidden=cli.widths("critic_hidden"),
        matmul_precision=FLAGS.matmul_precision)
    hparams = HyperParams(actor_lr=FLAGS.actor_lr, critic_lr=FLAGS.critic_lr,
                          **cli.mitigation_settings()).validate()
    return config, hparams


def summarise(config, hparams, state, metrics, timings, environment: dict) -> dict:
    return {**dataclasses.asdict(hparams), "seed": FLAGS.seed,
            "config": dataclasses.asdict(config), "environment": [environment],
            **results.lane_summary(state.tracker, metrics, config.episodes), **timings}


def run(config: TrainConfig, hparams: HyperParams, out, chunk: int):
    trainer = make_trainer(config)
    traced_hparams = hparams.as_arrays()
    start = time.perf_counter()
    state = jax.jit(trainer.init)(seed_key(FLAGS.seed), traced_hparams)
    chunk = min(chunk, config.episodes)
    # One compiled chunk for the whole run: the last chunk is padded (see run_episodes).
    run_chunk = jax.jit(trainer.run_episodes, donate_argnums=0).lower(
        state, jnp.arange(chunk, dtype=jnp.int32), traced_hparams).compile()
    compile_s = time.perf_counter() - start
    environment = provenance.environment_record(
        matmul_precision=config.matmul_precision, lanes_per_call=1, devices_per_call=1, workers=1,
        activations=[ACTIVATION_NAMES[int(hparams.output_activation)]])
    print(f"compiled in {compile_s:.1f} s; {provenance.numerics_line(environment)}", flush=True)
    chunks, done = [], 0
    while done < config.episodes:
        n_real = min(chunk, config.episodes - done)
        chunk_start = time.perf_counter()
        state, metrics = jax.block_until_ready(
            run_chunk(state, jnp.arange(done, done + chunk, dtype=jnp.int32), traced_hparams))
        metrics = jax.tree.map(lambda x: x[:n_real], jax.device_get(metrics))
        chunks.append(metrics)
        done += n_real
        rate = n_real / (time.perf_counter() - chunk_start)
        stopped = int(np.sum(np.asarray(state.tracker.actor_first_unchanged) != diagnostics.NEVER))
        print(f"episodes {done}/{config.episodes} | {rate:.1f} episodes/s | "
              f"elapsed {time.perf_counter() - start:.0f} s | ETA {(config.episodes - done) / rate:.0f} s | "
              f"reward {float(metrics['train_reward'][-1]):.1f} | "
              f"saturation {float(metrics['saturation'][-1]):.3f} | "
              f"actors stopped {stopped}/{config.env.n_agents}", flush=True)
    wall_s = time.perf_counter() - start
    metrics = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    summary = summarise(config, hparams, state, metrics,
                        {"wall_s": wall_s, "compile_s": compile_s,
                         "s_per_episode_after_compile": (wall_s - compile_s) / config.episodes}, environment)
    files.write_atomically(out / "metrics.npz", lambda f: np.savez_compressed(f, **metrics))
    files.write_atomically(out / "summary.json", lambda f: f.write(files.json_text(summary).encode()))
    print(f"all actors stopped at episode: {summary['all_actors_stopped']}; critic first unchanged: "
          f"{summary['critic_first_unchanged']}; wrote {out}")


def main(argv):
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        cli.check_seed(FLAGS.seed)
        numerics.request_deterministic_gpu_ops(FLAGS.deterministic_ops)
        config, hparams = build_run()
        out = FLAGS.out or f"sweeps/runs/train-{FLAGS.actor_lr:g}-{FLAGS.critic_lr:g}-{time.strftime('%Y%m%d-%H%M%S')}"
        out = cli.check_new_output_dir(out)
    except (ValueError, cli.UsageFailure) as error:
        cli.fail(str(error))
    cli.interrupt_on_sigterm()
    try:
        files.create_new_folder(out)  # before training: a folder that cannot be written fails now
        with files.locked(out):
            run(config, hparams, out, FLAGS.chunk)
    except FileExistsError:
        cli.fail(f"--out {out} already exists; choose a new directory")
    except OSError as error:
        _remove_unfinished(out)
        cli.fail(f"cannot write {out}: {files.io_error_text(error)}", cli.IO_EXIT_CODE)
    except KeyboardInterrupt as interrupt:
        _remove_unfinished(out)
        cli.exit_interrupted(interrupt, "nothing was saved (a sweep of one configuration, python -m "
                                        "jaxmadrl.sweep, checkpoints and resumes)")


def _remove_unfinished(out: pathlib.Path) -> None:
    """Removes a results folder this run created if it holds no complete results."""
    if out.is_dir() and not (out / "summary.json").exists():
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
