"""Regenerate the paper's figures (and a few more), the check of its claims (``claims.md``,
MEC runs only) and the per-configuration table (``grid.md``) from a finished sweep run.

    python -m jaxmadrl.figures --run sweeps/runs/all16-3seeds-main --out figures/
    python -m jaxmadrl.figures --compare_sizes RUN_A,RUN_B,... --out figures/network-sizes/
    python -m jaxmadrl.figures --size_study RUN_A,RUN_B,... --out figures/actor-critic-sizes/

Every figure of ``report.catalogue`` is drawn by its ``plot_…`` function and written as PNG
and PDF here (``--formats``); the claims and comparisons are computed in ``analysis``. A run with several
variants (e.g. ``--sweep mitigations``) gets the figures and claims of each variant in
``OUT/<variant>/``, and in ``OUT/`` the heatmaps of all variants side by side
(``fig17_variants``) and their comparison in words and numbers (``variants.md``). Runs
that differ only in network sizes are compared with ``--compare_sizes``
(``fig18_network_sizes``, ``sizes.md``).
"""

from __future__ import annotations

import pathlib
import warnings

import matplotlib

matplotlib.use("Agg")  # files only, whatever the machine offers; chosen before pyplot is imported
from absl import flags, logging

from jaxmadrl.cli import failing
from jaxmadrl.core import files
from jaxmadrl.report import catalogue, drawing, sizes
from jaxmadrl.store import loading, provenance

FLAGS = flags.FlagValues()  # the command's own flags (``failing.parse_flags``)
flags.DEFINE_string(
    "run", None, "A finished sweep run directory (with summary.json and metrics.npz).", flag_values=FLAGS
)
flags.DEFINE_list(
    "compare_sizes",
    None,
    "Instead of --run: finished runs of the same grid that differ only in "
    "network sizes; writes fig18_network_sizes and sizes.md comparing them.",
    flag_values=FLAGS,
)
flags.DEFINE_list(
    "size_study",
    None,
    "Instead of --run: finished runs of network sizes — variants of sizes in one program, or a run per "
    "size (tools/size_ladder.py) — for seed 004's study (each learner and environment's symmetric and "
    "asymmetric passes together); writes table1.md and fig20_sizes_*.",
    flag_values=FLAGS,
)
flags.DEFINE_string("out", "figures", "Where to write the figures.", flag_values=FLAGS)
flags.DEFINE_list(
    "formats",
    list(drawing.DEFAULT_FORMATS),
    f"The file formats of every figure, any of {','.join(drawing.FORMATS)}.",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "smooth",
    None,
    "Trailing-mean window (episodes) of the figures over episodes; default: 1/40 of the run.",
    flag_values=FLAGS,
)


def main(argv):
    logging.set_verbosity(logging.WARNING)
    warnings.filterwarnings("ignore", category=RuntimeWarning)  # as catalogue.write_all does
    if len(argv) > 1:
        failing.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.smooth is not None and FLAGS.smooth < 1:
        failing.fail(f"--smooth must be >= 1, got {FLAGS.smooth}")
    runs, write = _loaded()
    for shown in runs:
        print(provenance.describe(shown.environment))
    try:
        output = write(runs, pathlib.Path(FLAGS.out))
    except OSError as error:  # every file is written whole or not at all
        failing.fail(f"cannot write the figures: {files.io_error_text(error)}", failing.IO_EXIT_CODE)
    print(f"wrote {len(output.paths)} files to {FLAGS.out}")
    if output.skipped:
        print(f"skipped {len(output.skipped)} that this run cannot show: {'; '.join(output.skipped)}")


def _loaded():
    """(the runs the flags name, what writes their files); one line and exit 2 if they are not runs."""
    given = {name: getattr(FLAGS, name) for name in ("run", "compare_sizes", "size_study") if getattr(FLAGS, name)}
    try:
        if len(given) != 1:
            raise loading.RunError("give one of --run (a finished sweep run folder), --compare_sizes or --size_study")
        if pathlib.Path(FLAGS.out).exists() and not pathlib.Path(FLAGS.out).is_dir():
            raise loading.RunError(f"--out {FLAGS.out} exists and is not a directory")
        formats = tuple(dict.fromkeys(FLAGS.formats))
        if not formats or not set(formats) <= set(drawing.FORMATS):
            raise loading.RunError(f"--formats must be some of {','.join(drawing.FORMATS)}, got {FLAGS.formats}")
        if FLAGS.run:
            return [loading.load_run(FLAGS.run)], lambda runs, out: catalogue.write_all(
                runs[0], out, FLAGS.smooth, formats
            )
        runs = [loading.load_run(path) for path in FLAGS.compare_sizes or FLAGS.size_study]
        if FLAGS.compare_sizes:
            return sizes.check_size_runs(runs), lambda runs, out: catalogue.write_size_comparison(runs, out, formats)
        return runs, lambda runs, out: catalogue.write_size_study(runs, out, formats)
    except loading.RunError as error:
        failing.fail(str(error))
