"""Regenerate the paper's figures (and a few more), the check of its claims (``claims.md``,
MEC runs only) and the per-configuration table (``grid.md``) from a finished sweep run.

    python -m jaxmadrl.figures --run sweeps/runs/all16-3seeds-main --out figures/
    python -m jaxmadrl.figures --compare_sizes RUN_A,RUN_B,... --out figures/network-sizes/

Every figure is written as PNG and PDF (``plots``); the claims and comparisons are
computed in ``analysis``. A run with several variants (e.g. ``--sweep mitigations``) gets
the figures and claims of each variant in ``OUT/<variant>/``, and in ``OUT/`` the heatmaps
of all variants side by side (``fig17_variants``) and their comparison in words and
numbers (``variants.md``). Runs that differ only in network sizes are compared with
``--compare_sizes`` (``fig18_network_sizes``, ``sizes.md``).
"""

from __future__ import annotations

import pathlib
import warnings

import matplotlib

matplotlib.use("Agg")  # files only, whatever the machine offers; chosen before pyplot is imported
from absl import flags, logging

from jaxmadrl.cli import failing
from jaxmadrl.core import files
from jaxmadrl.envs import domains
from jaxmadrl.report import analysis, baselines, comparison_plots, drawing, plots, reference_run, sizes
from jaxmadrl.report.drawing import plt
from jaxmadrl.store import loading, provenance

flags.DEFINE_string("run", None, "A finished sweep run directory (with summary.json and metrics.npz).")
flags.DEFINE_list(
    "compare_sizes",
    None,
    "Instead of --run: finished runs of the same grid that differ only in "
    "network sizes; writes fig18_network_sizes and sizes.md comparing them.",
)
flags.DEFINE_string("out", "figures", "Where to write the figures.")
flags.DEFINE_integer("smooth", 50, "Moving-average window (episodes) for reward curves.")
FLAGS = flags.FLAGS


class Output:
    """What a figures command writes: the files written, and what it skipped because the
    run cannot show it (too short, no training yet, diverged, ...), each with the reason."""

    def __init__(self):
        self.paths: list[pathlib.Path] = []
        self.skipped: list[str] = []

    def draw(self, name: str, make, *args) -> None:
        """``make(*args)`` → written paths; a figure the run's data cannot make is skipped."""
        try:
            self.paths += make(*args)
        except (ValueError, KeyError, IndexError, ZeroDivisionError) as error:
            plt.close("all")
            self.skipped.append(f"{name} ({str(error).splitlines()[0] if str(error) else type(error).__name__})")

    def write(self, path: pathlib.Path, text_of, *args) -> None:
        """The text file ``path`` of ``text_of(*args)``, or skipped as ``draw`` skips."""

        def written():
            drawing.write_text(path, text_of(*args))
            return [path]

        self.draw(path.name, written)


def write_run(run: loading.Run, out: pathlib.Path, window: int, output: Output, prefix: str = "") -> None:
    """The figures and the per-configuration table (grid.md) of a run with one variant; in
    the MEC domain also the comparison with the reference (fig16; its logged run: fig19 and
    reference_run.md), the paper's claims (claims.md) and the heuristic policies on the same
    worlds (baselines.md, and reference lines in fig11). ``prefix`` names the variant in what is skipped."""
    out.mkdir(parents=True, exist_ok=True)
    paper_only = (plots.fig_reference_vs_ours,) if run.definition.train.domain == domains.MEC else ()
    for make in (
        plots.fig_stopping_heatmap,
        plots.fig_stopping_bubbles,
        plots.fig_asymmetry_over_time,
        plots.fig_gradient_norms_over_time,
        plots.fig_layer_gradients_final,
        plots.fig_final_asymmetry_vs_stopping,
        plots.fig_saturation_over_time,
        plots.fig_preactivations_over_time,
        plots.fig_final_saturation_heatmap,
        plots.fig_saturation_vs_stopping,
        plots.fig_per_agent_stopping,
        plots.fig_stopping_spread,
        plots.fig_onset_vs_effective_lr,
        *paper_only,
    ):
        output.draw(prefix + make.__name__.removeprefix("fig_"), make, run, out)
    rewards = baselines.heuristic_rewards(run) if paper_only else None
    output.draw(prefix + "learning_curves", plots.fig_learning_curves, run, out, window, rewards)
    output.draw(prefix + "reward_at_stop_vs_end", plots.fig_reward_at_stop_vs_end, run, out, window)
    output.write(out / "grid.md", analysis.describe_grid, run)
    if paper_only:  # the paper's claims and the heuristics are about the MEC system
        output.write(out / "claims.md", analysis.check_claims, run)
        output.write(out / "baselines.md", baselines.describe_baselines, run, rewards)
        output.draw(prefix + "reference_logged_run", reference_run.fig_reference_logged_run, run, out)
        output.write(out / "reference_run.md", reference_run.describe_reference_run, run)


def write_all(run: loading.Run, out: pathlib.Path, window: int) -> Output:
    """``write_run`` for a one-variant run; otherwise per variant in ``out/<variant>/``, plus
    the side-by-side figure and ``variants.md`` in ``out``."""
    output = Output()
    if len(run.variants) == 1:
        write_run(run, out, window, output)
        return output
    out.mkdir(parents=True, exist_ok=True)
    for variant in run.variants:
        write_run(run.only_variant(variant), out / variant, window, output, f"{variant}/")
    output.draw("variants", comparison_plots.fig_variants, run, out)
    output.write(out / "variants.md", analysis.compare_variants, run)
    return output


def main(argv):
    logging.set_verbosity(logging.WARNING)
    # Means over empty or all-NaN selections (a lane that never stopped, episodes before
    # training) are NaN by design and drawn as gaps; NumPy's warnings about them are noise.
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    if len(argv) > 1:
        failing.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.smooth < 1:
        failing.fail(f"--smooth must be >= 1, got {FLAGS.smooth}")
    try:
        if bool(FLAGS.run) == bool(FLAGS.compare_sizes):
            raise loading.RunError("give either --run (a finished sweep run folder) or --compare_sizes, and not both")
        if FLAGS.compare_sizes:
            runs = sizes.check_size_runs([loading.load_run(path) for path in FLAGS.compare_sizes])
        else:
            run = loading.load_run(FLAGS.run)
        if pathlib.Path(FLAGS.out).exists() and not pathlib.Path(FLAGS.out).is_dir():
            raise loading.RunError(f"--out {FLAGS.out} exists and is not a directory")
    except loading.RunError as error:
        failing.fail(str(error))
    out = pathlib.Path(FLAGS.out)
    for shown in runs if FLAGS.compare_sizes else [run]:
        print(provenance.describe(shown.environment))
    try:
        if FLAGS.compare_sizes:
            out.mkdir(parents=True, exist_ok=True)
            output = Output()
            output.write(out / "sizes.md", sizes.compare_sizes, runs)
            output.draw("network_sizes", comparison_plots.fig_network_sizes, runs, out)
        else:
            output = write_all(run, out, FLAGS.smooth)
    except OSError as error:  # every file is written whole or not at all
        failing.fail(f"cannot write the figures: {files.io_error_text(error)}", failing.IO_EXIT_CODE)
    print(f"wrote {len(output.paths)} files to {FLAGS.out}")
    if output.skipped:
        print(f"skipped {len(output.skipped)} that this run cannot show: {'; '.join(output.skipped)}")
