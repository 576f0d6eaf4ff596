"""Evaluate a finished run's trained policy of one lane on fresh episodes: its greedy actions
in its own world (MEC) and program, from the parameters the run kept (``params.npz``).

    python -m jaxmadrl.evaluate --run sweeps/runs/all16-3seeds --lane 5 --episodes 20
"""

from __future__ import annotations

from absl import flags, logging

from jaxmadrl.cli import failing
from jaxmadrl.store import loading, policies

FLAGS = flags.FlagValues()  # the command's own flags (``failing.parse_flags``)
flags.DEFINE_string("run", None, "A finished run folder (with params.npz).", flag_values=FLAGS)
flags.DEFINE_integer("lane", 0, "The lane to evaluate (0-based, as in the run's summary.csv).", flag_values=FLAGS)
flags.DEFINE_integer("episodes", 10, "Greedy episodes to play.", lower_bound=1, upper_bound=100_000, flag_values=FLAGS)
flags.DEFINE_integer(
    "seed", 0, "Seed of the fresh episodes (none of them is one the run's evaluations played).", flag_values=FLAGS
)


def main(argv):
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        failing.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    if not FLAGS.run:
        failing.fail("--run is required: a finished run folder")
    try:
        run = loading.load_run(FLAGS.run)
        means = policies.evaluate(run, FLAGS.lane, FLAGS.episodes, FLAGS.seed)
    except ValueError as error:  # RunError too
        failing.fail(str(error))
    lane = run.lanes[FLAGS.lane]
    print(
        f"lane {FLAGS.lane} (seed {lane['seed']}, {lane['variant']}, actor LR {lane['actor_lr']:g}, critic LR "
        f"{lane['critic_lr']:g}) over {FLAGS.episodes} fresh episodes (seed {FLAGS.seed}):"
    )
    for name, value in means.items():
        print(f"  {name} = {value:.6g}")
