"""Train one learning-rate configuration: a sweep of one lane, with its run folder.

    python -m jaxmadrl.train --actor_lr=1e-4 --critic_lr=1e-3 --episodes=2000 --out=DIR
    python -m jaxmadrl.train --resume=DIR

DIR is a run folder like a sweep's (``runs``): ``metrics.npz`` (every metric as (1,
episodes, ...)), ``summary.json`` (the definition, the environment it was computed in, and
the lane's stopping episodes and final diagnostics), ``summary.csv`` and ``table.txt``;
checkpoints after every ``--chunk`` episodes, resume after Ctrl-C, SIGTERM or a kill, and
``python -m jaxmadrl.figures --run=DIR`` draws it. Seed N is the lane of seed N in a sweep.
"""
from __future__ import annotations

import pathlib
import time

from absl import app, flags, logging

from jaxmadrl import cli, grid, runs
from jaxmadrl.config import TrainConfig
from jaxmadrl.limits import SettingError

DEFAULTS = TrainConfig()
flags.DEFINE_float("actor_lr", 1e-4, "Adam learning rate of every client actor (finite, > 0).")
flags.DEFINE_float("critic_lr", 1e-3, "Adam learning rate of the master critic (finite, > 0).")
flags.DEFINE_integer("episodes", DEFAULTS.episodes, "Training episodes.")
flags.DEFINE_integer("seed", 0, "Seed in [0, 2**32): weights, world and exploration; the same as the "
                     "sweep's seed of that number.")
cli.define_run_flags("sweeps/runs/train-<actor_lr>-<critic_lr>-<timestamp>")
cli.define_training_flags()
flags.adopt_module_key_flags(cli)
flags.DEFINE_integer("batch_size", DEFAULTS.batch_size, "Replay batch size (<= replay_capacity).")
flags.DEFINE_integer("replay_capacity", DEFAULTS.replay_capacity, "Prioritised replay capacity.")
flags.DEFINE_integer("eval_every", DEFAULTS.eval_every, "Greedy evaluation after every this many episodes.")
flags.DEFINE_integer("chunk", 100, "Episodes per compiled call: one progress line and checkpoint each.")
FLAGS = flags.FLAGS

# Flags that define what is computed; a resume takes them from the run.
DEFINITION_FLAGS = ("actor_lr", "critic_lr", "episodes", "seed", "n_agents", "steps_per_episode", "mode", "scaling",
                    "actor_update", "actor_hidden", "critic_hidden", "batch_size", "replay_capacity", "eval_every",
                    "chunk", *cli.MITIGATION_FLAGS)


def definition_from_flags() -> grid.SweepDefinition:
    """The one-lane sweep the flags describe; UsageFailure naming the flag of a bad value."""
    try:
        return grid.SweepDefinition(
            name=f"train-{FLAGS.actor_lr:g}-{FLAGS.critic_lr:g}", actor_lrs=(FLAGS.actor_lr,),
            critic_lrs=(FLAGS.critic_lr,), first_seed=FLAGS.seed, episodes=FLAGS.episodes,
            n_agents=FLAGS.n_agents, steps_per_episode=FLAGS.steps_per_episode, mode=FLAGS.mode,
            scaling=FLAGS.scaling, actor_update=FLAGS.actor_update, actor_hidden=cli.widths("actor_hidden"),
            critic_hidden=cli.widths("critic_hidden"), batch_size=FLAGS.batch_size,
            replay_capacity=FLAGS.replay_capacity, eval_every=FLAGS.eval_every, chunk=FLAGS.chunk,
            mitigations=cli.mitigation_settings())
    except SettingError as error:
        setting = {"actor_lrs": "actor_lr", "critic_lrs": "critic_lr", "first_seed": "seed"}.get(
            error.setting, error.setting.removeprefix("mitigations."))
        raise cli.UsageFailure(f"--{setting} {error.problem}")


def main(argv):
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        if FLAGS.resume:
            given = [f"--{name}" for name in DEFINITION_FLAGS if FLAGS[name].present]
            if given or FLAGS.out:
                raise cli.UsageFailure(f"--resume takes the settings from the run; drop {', '.join(given or ['--out'])}")
            run_dir = pathlib.Path(FLAGS.resume)
            definition = runs.read_definition(run_dir)
        else:
            definition = definition_from_flags()
            run_dir = cli.check_new_output_dir(FLAGS.out or f"sweeps/runs/{definition.name}-"
                                               f"{time.strftime('%Y%m%d-%H%M%S')}")
    except (ValueError, cli.UsageFailure) as error:
        cli.fail(str(error))
    cli.run_command("jaxmadrl.train", definition, run_dir, resuming=bool(FLAGS.resume))


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
