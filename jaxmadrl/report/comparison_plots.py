"""The figures that compare runs or variants: the variants of one run side by side
(``plot_variants``, written as ``fig17_variants``) and runs that differ only in network
sizes (``plot_network_sizes``, ``fig18_network_sizes``). Each draws into ``fig`` (a Figure or
SubFigure) or a new figure and returns it, unsaved."""

from __future__ import annotations

import numpy as np

from jaxmadrl.report import analysis, drawing, sizes
from jaxmadrl.store import loading


def plot_variants(run: loading.Run, fig=None):
    """One column per variant: stopping episode, final evaluation reward, final saturation."""
    parts = [run.only_variant(v) for v in run.variants]
    rewards = np.array([analysis.mean_last_evaluations(p, r["lane"]) for p in parts for r in p.lanes])
    rows = [
        (
            "all-actors stopping episode",
            lambda p, lane: p.stop(lane),
            drawing.cell_spread_text,
            "RdYlGn",
            0,
            run.episodes,
        ),
        (
            f"evaluation reward, last {analysis.LAST}",
            lambda p, lane: analysis.mean_last_evaluations(p, lane),
            (lambda cell: drawing.cell_spread_text(cell / 1e3, "{:.1f}k"))
            if np.abs(rewards).max() >= 1e3
            else (lambda cell: drawing.cell_spread_text(cell, "{:.0f}")),
            "viridis",
            rewards.min(),
            rewards.max(),
        ),
        (
            f"output saturation, last {analysis.LAST} episodes",
            lambda p, lane: analysis.mean_last_saturation(p, lane),
            lambda cell: drawing.cell_spread_text(cell, "{:.2f}"),
            "magma_r",
            0,
            1,
        ),
    ]
    fig = drawing.new_figure(fig, (2.9 * len(parts) + 1.5, 2.9 * len(rows)))
    axes = fig.subplots(len(rows), len(parts), squeeze=False)
    for i, (label, value, fmt, cmap, vmin, vmax) in enumerate(rows):
        for j, part in enumerate(parts):
            ax = axes[i, j]
            image = drawing.heatmap(
                ax,
                part,
                part.per_config(lambda lane: value(part, lane)),
                part.variants[0] if i == 0 else "",
                fmt,
                cmap,
                vmin,
                vmax,
                colorbar_label=None,
            )
            if i < len(rows) - 1:
                ax.set_xlabel("")
            if j > 0:
                ax.set_ylabel("")
        fig.colorbar(image, ax=axes[i].tolist(), label=label, shrink=0.9)
    fig.suptitle(
        f"Variants side by side: {run.seeds} seed(s), {run.episodes} episodes\n"
        f"(stopping {run.episodes} = never; cells: median [range over seeds])"
    )
    return fig


def plot_network_sizes(runs: list[loading.Run], fig=None):
    """Evaluation reward (last 10 evaluations) and all-actors stopping episode against the
    parameters of the network that varies: a row with the actor varying (critic at its most
    common size), a row with the critic varying (actor at its most common size), where the
    runs have them; one line per LR configuration, median over seeds, band = range."""
    reference = runs[0]
    sides = sizes.size_sides(runs)
    fig = drawing.new_figure(fig, (12, 4.2 * len(sides)))
    axes = fig.subplots(len(sides), 2, squeeze=False)
    for row, (side, group) in zip(axes, sides.items()):
        index = 0 if side == "actor" else 1
        x = [sizes.parameter_counts(run)[index] for run in group]
        widths = [",".join(map(str, sizes.hidden_widths(run)[index])) for run in group]
        fixed = ",".join(map(str, sizes.hidden_widths(group[0])[1 - index]))
        other = "critic" if side == "actor" else "actor"
        for a, c in reference.configs():
            style = drawing.config_style(reference, a, c)
            for ax, value in ((row[0], analysis.mean_last_evaluations), (row[1], lambda run, lane: run.stop(lane))):
                cells = np.array([[value(run, lane) for lane in run.select(actor_lr=a, critic_lr=c)] for run in group])
                ax.plot(x, np.median(cells, 1), marker="o", **style)
                if cells.shape[1] > 1:
                    ax.fill_between(x, cells.min(1), cells.max(1), color=style["color"], alpha=0.12, lw=0)
        for ax, ylabel in (
            (row[0], f"evaluation reward, last {analysis.LAST} evaluations"),
            (row[1], f"all-actors stopping episode ({reference.episodes} = never)"),
        ):
            ax.set_xscale("log")
            ax.set_xticks(x, [f"{n}\n({w})" for n, w in zip(x, widths)], fontsize=7)
            ax.minorticks_off()
            ax.set_xlabel(f"parameters {'per actor' if side == 'actor' else 'of the critic'} ({other} {fixed})")
            ax.set_ylabel(ylabel)
        row[0].legend(fontsize=7)
    fig.suptitle(
        f"Network sizes compared ({reference.seeds} seed(s), {reference.episodes} episodes; "
        "median over seeds, band = range)"
    )
    return fig
