"""Every figure and text file of a run, and writing them into a folder: what the figures
command writes (``write_all``). A notebook can draw any one figure from the same list
(``for name, draw in figures_of_run(run): draw()``). The paper's own comparisons (fig16,
fig19, claims.md, reference_run.md) and the heuristics (baselines.md, the grey lines of
fig11) are about the MEC system, so they are made for MEC runs only."""

from __future__ import annotations

import functools
import pathlib
import warnings
from typing import Callable

from jaxmadrl.envs import domains
from jaxmadrl.report import (
    analysis,
    baselines,
    comparison_plots,
    drawing,
    over_time,
    plots,
    reference_run,
    size_study,
    sizes,
)
from jaxmadrl.report.drawing import plt
from jaxmadrl.store.loading import Run

# (file name, plot function of the run alone), in the order the paper numbers them.
RUN_FIGURES = (
    ("fig01_stopping_heatmap", plots.plot_stopping_heatmap),
    ("fig02_stopping_bubbles", plots.plot_stopping_bubbles),
    ("fig05_layer_gradients_final", plots.plot_layer_gradients_final),
    ("fig06_final_asymmetry_vs_stopping", plots.plot_final_asymmetry_vs_stopping),
    ("fig09_final_saturation_heatmap", plots.plot_final_saturation_heatmap),
    ("fig10_saturation_vs_stopping", plots.plot_saturation_vs_stopping),
    ("fig13_per_agent_stopping", plots.plot_per_agent_stopping),
    ("fig14_stopping_spread", plots.plot_stopping_spread),
    ("fig15_saturation_onset_vs_effective_lr", plots.plot_onset_vs_effective_lr),
)
# (file name, plot function of the run and a smoothing window)
SMOOTHED_FIGURES = (
    ("fig03_asymmetry_over_time", over_time.plot_asymmetry_over_time),
    ("fig04_gradient_norms_over_time", over_time.plot_gradient_norms_over_time),
    ("fig07_saturation_over_time", over_time.plot_saturation_over_time),
    ("fig08_preactivations_over_time", over_time.plot_preactivations_over_time),
    ("fig12_reward_at_stop_vs_end", plots.plot_reward_at_stop_vs_end),
)
MEC_FIGURES = (
    ("fig16_reference_vs_ours", plots.plot_reference_vs_ours),
    ("fig19_reference_logged_run", reference_run.plot_reference_logged_run),
)


def figures_of_run(
    run: Run, window: int | None = None, heuristic_rewards: dict | None = None
) -> list[tuple[str, Callable]]:
    """(file name, draw) for every figure of ``run`` (one variant), ``draw()`` → Figure.
    ``window``: the over-time figures' smoothing (episodes; default 1/40 of the run);
    ``heuristic_rewards``: the reference lines of fig11 (``baselines.heuristic_rewards``)."""
    figures = [(name, functools.partial(plot, run)) for name, plot in RUN_FIGURES]
    figures += [(name, functools.partial(plot, run, window=window)) for name, plot in SMOOTHED_FIGURES]
    curves = functools.partial(over_time.plot_learning_curves, run, window=window, heuristic_rewards=heuristic_rewards)
    figures.append(("fig11_learning_curves", curves))
    if run.definition.train.domain == domains.MEC:
        figures += [(name, functools.partial(plot, run)) for name, plot in MEC_FIGURES]
    return sorted(figures, key=lambda figure: figure[0])


class Output:
    """What is written into ``out``: the files written, and what was skipped because the run
    cannot show it (too short, no training yet, diverged, ...), each with the reason, named
    as "<folder>/<name>" when written into a subfolder (``within``). Figures are written in
    each of ``formats`` (``drawing.FORMATS``)."""

    def __init__(self, out: pathlib.Path, prefix: str = "", formats: tuple[str, ...] = drawing.DEFAULT_FORMATS):
        self.out, self.prefix, self.formats = out, prefix, formats
        self.paths: list[pathlib.Path] = []
        self.skipped: list[str] = []

    def draw(self, name: str, draw) -> None:
        """``draw()`` → a Figure, saved as ``name``.<format>; skipped if the run's data cannot make it."""
        try:
            self.paths += drawing.save(draw(), self.out, name, self.formats)
        except (ValueError, KeyError, IndexError, ZeroDivisionError) as error:
            self.skip(name.split("_", 1)[-1], error)

    def write(self, name: str, text_of, *args) -> None:
        """The text file ``name`` of ``text_of(*args)``, or skipped as ``draw`` skips."""
        try:
            text = text_of(*args)
        except (ValueError, KeyError, IndexError, ZeroDivisionError) as error:
            self.skip(name, error)
            return
        drawing.write_text(self.out / name, text)
        self.paths.append(self.out / name)

    def skip(self, name: str, error: Exception) -> None:
        plt.close("all")
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        self.skipped.append(f"{self.prefix}{name} ({reason})")

    def within(self, folder: str) -> "Output":
        """The same record, writing into ``out/folder``."""
        inner = Output(self.out / folder, f"{self.prefix}{folder}/", self.formats)
        inner.paths, inner.skipped = self.paths, self.skipped
        return inner


def write_run(run: Run, window: int | None, output: Output) -> None:
    """The figures (``figures_of_run``) and the per-configuration table (grid.md) of a run with
    one variant; in the MEC domain also the paper's claims (claims.md), the heuristic
    policies on the same worlds (baselines.md, and reference lines in fig11) and the
    comparison with the reference's logged run (reference_run.md)."""
    output.out.mkdir(parents=True, exist_ok=True)
    mec = run.definition.train.domain == domains.MEC
    rewards = baselines.heuristic_rewards(run) if mec else None
    for name, draw in figures_of_run(run, window, rewards):
        output.draw(name, draw)
    output.write("grid.md", analysis.describe_grid, run)
    if mec:  # the paper's claims and the heuristics are about the MEC system
        output.write("claims.md", analysis.check_claims, run)
        output.write("baselines.md", baselines.describe_baselines, run, rewards)
        output.write("reference_run.md", reference_run.describe_reference_run, run)


def write_all(
    run: Run, out: pathlib.Path, window: int | None = None, formats: tuple[str, ...] = drawing.DEFAULT_FORMATS
) -> Output:
    """``write_run`` for a one-variant run; otherwise per variant in ``out/<variant>/``, plus
    the side-by-side figure and ``variants.md`` in ``out``; each figure in ``formats``."""
    with warnings.catch_warnings():
        # Means over empty or all-NaN selections (a lane that never stopped, episodes before
        # training) are NaN by design and drawn as gaps; NumPy's warnings about them are noise.
        warnings.simplefilter("ignore", RuntimeWarning)
        return _write_all(run, Output(out, formats=formats), window)


def _write_all(run: Run, output: Output, window: int | None) -> Output:
    if len(run.variants) == 1:
        write_run(run, window, output)
        return output
    output.out.mkdir(parents=True, exist_ok=True)
    for variant in run.variants:
        write_run(run.only_variant(variant), window, output.within(variant))
    output.draw("fig17_variants", lambda: comparison_plots.plot_variants(run))
    output.write("variants.md", analysis.compare_variants, run)
    return output


def write_size_comparison(
    runs: list[Run], out: pathlib.Path, formats: tuple[str, ...] = drawing.DEFAULT_FORMATS
) -> Output:
    """``sizes.md`` and ``fig18_network_sizes`` of runs that differ only in network sizes
    (``sizes.check_size_runs``)."""
    out.mkdir(parents=True, exist_ok=True)
    output = Output(out, formats=formats)
    output.write("sizes.md", sizes.compare_sizes, runs)
    output.draw("fig18_network_sizes", lambda: comparison_plots.plot_network_sizes(runs))
    return output


def write_size_study(runs: list[Run], out: pathlib.Path, formats: tuple[str, ...] = drawing.DEFAULT_FORMATS) -> Output:
    """Seed 004's size study (``size_study``) of runs whose variants are network sizes:
    ``table1.md``, a section per learner and environment (their runs together: the symmetric
    pass and the asymmetric one) after a summary of every answer, and for each
    ``fig20_sizes_<learner>_<environment>`` (return by actor weights) and
    ``fig21_size_grid_<learner>_<environment>`` (the return of every size pair run)."""
    out.mkdir(parents=True, exist_ok=True)
    output = Output(out, formats=formats)
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.definition.train.learner_name, run.definition.train.domain), []).append(run)
    sections = [
        f"## {learner} on {domain}\n\n{size_study.describe_size_study(group)}"
        for (learner, domain), group in groups.items()
    ]
    title = "# Seed 004's Table 1, ours beside it\n\n"
    output.write("table1.md", lambda: title + size_study.summarise_size_studies(groups) + "\n" + "\n".join(sections))
    for (learner, domain), group in groups.items():
        suffix = f"{learner}_{domain.replace(':', '-')}"
        output.draw(f"fig20_sizes_{suffix}", functools.partial(size_study.plot_size_study, group))
        output.draw(f"fig21_size_grid_{suffix}", functools.partial(size_study.plot_size_grid, group))
    return output
