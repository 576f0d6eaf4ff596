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

from absl import flags, logging

from jaxmadrl.cli import common, failing
from jaxmadrl.core.limits import SettingError
from jaxmadrl.store import names, run_folder
from jaxmadrl.study import settings
from jaxmadrl.study.definition import SweepDefinition

FLAGS = flags.FlagValues()  # the command's own flags (``failing.parse_flags``)
flags.DEFINE_float("actor_lr", 1e-4, common.as_sentence(settings.LEARNING_RATE_HELP["actor_lr"]), flag_values=FLAGS)
flags.DEFINE_float("critic_lr", 1e-3, common.as_sentence(settings.LEARNING_RATE_HELP["critic_lr"]), flag_values=FLAGS)
flags.DEFINE_integer(
    "seed",
    0,
    "Seed in [0, 2**32): weights, world and exploration; the same as the sweep's seed of that number.",
    flag_values=FLAGS,
)
common.define_run_flags(
    FLAGS,
    f"{names.RUNS_DIR}/train-<actor_lr>-<critic_lr>-<timestamp>",
    ("matmul_precision", "deterministic_ops", "keep_checkpoint", "log"),
)
common.define_setting_flags(FLAGS)
flags.adopt_module_key_flags(common, flag_values=FLAGS)

# Flags that define what is computed; a resume takes them from the run.
DEFINITION_FLAGS = ("actor_lr", "critic_lr", "seed", "chunk", *settings.ALL)


def definition_from_flags() -> SweepDefinition:
    """The one-lane sweep the flags describe; UsageFailure naming the flag of a bad value."""
    static, traced = common.given_settings(FLAGS)
    try:
        return SweepDefinition.from_dict(
            {
                "name": f"train-{FLAGS.actor_lr:g}-{FLAGS.critic_lr:g}",
                "actor_lrs": [FLAGS.actor_lr],
                "critic_lrs": [FLAGS.critic_lr],
                "first_seed": FLAGS.seed,
                "chunk": FLAGS.chunk,
                **static,
                "mitigations": traced,
            }
        )
    except SettingError as error:
        setting = {"actor_lrs": "actor_lr", "critic_lrs": "critic_lr", "first_seed": "seed"}.get(
            error.setting, error.setting.removeprefix("mitigations.")
        )
        raise failing.UsageFailure(f"--{setting} {error.problem}")


def main(argv):
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        failing.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        if FLAGS.resume:
            given = [f"--{name}" for name in DEFINITION_FLAGS if FLAGS[name].present]
            if given or FLAGS.out:
                raise failing.UsageFailure(
                    f"--resume takes the settings from the run; drop {', '.join(given or ['--out'])}"
                )
            run_dir = pathlib.Path(FLAGS.resume)
            definition = run_folder.read_definition(run_dir)
        else:
            definition = definition_from_flags()
            run_dir = failing.check_new_output_dir(
                FLAGS.out or names.new_run_dir(definition.name, time.strftime("%Y%m%d-%H%M%S"))
            )
    except (ValueError, failing.UsageFailure) as error:
        failing.fail(str(error))
    common.run_command("jaxmadrl.train", FLAGS, definition, run_dir, resuming=bool(FLAGS.resume))
