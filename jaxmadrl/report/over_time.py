"""The figures of a run over episodes, as small multiples: a panel per actor learning rate,
a line per critic learning rate (the median over seeds of each lane's trailing mean, band =
inter-quartile range), so that 16 configurations × seeds stay readable. Each is
``plot_…(run, fig=None, window=None) → Figure``: drawn into ``fig`` (a Figure or SubFigure)
or a new figure, not saved (``drawing.save`` writes one); ``window``: the trailing mean's
length in episodes, by default 1/40 of the run.
"""

from __future__ import annotations

import numpy as np

from jaxmadrl.agents.diagnostics import SATURATION_LEVEL
from jaxmadrl.report.drawing import (
    LOG_FLOOR,
    critic_colour,
    critic_legend,
    default_window,
    draw_over_time,
    over_time_caption,
    panels_per_actor_lr,
    thousands_axis,
)
from jaxmadrl.store.loading import Run

HEURISTIC_STYLES = {"all_local": "-", "offload_all": "--", "random": "-.", "greedy": (0, (1, 1))}


def plot_asymmetry_over_time(run: Run, fig=None, window: int | None = None):
    """The gradient ratio ρ = actor / critic norm; an exactly-zero ρ (stopped actors) is
    drawn at ``LOG_FLOOR``."""
    window = window or default_window(run)
    fig, axes = panels_per_actor_lr(run, fig, rows=1)
    draw_over_time(axes[0], run, run.metrics["grad_ratio"], window, log=True)
    axes[0, 0].set_ylabel("ρ = actor / critic gradient norm")
    critic_legend(fig, axes)
    fig.suptitle(
        over_time_caption(run, f"Gradient asymmetry ratio over training (0 drawn at {LOG_FLOOR:g})", window)
        + "; means of log10",
        fontsize=9,
    )
    return fig


def plot_gradient_norms_over_time(run: Run, fig=None, window: int | None = None):
    """A row for the actors' gradient norm (RMS over agents) and one for the critic's."""
    window = window or default_window(run)
    fig, axes = panels_per_actor_lr(run, fig, rows=2)
    for row, (metric, label) in zip(
        axes,
        (
            ("actor_grad_norm", "actor gradient L2 norm\n(RMS over agents)"),
            ("critic_grad_norm", "critic gradient L2 norm"),
        ),
    ):
        draw_over_time(row, run, run.metrics[metric], window, log=True)
        row[0].set_ylabel(label)
    critic_legend(fig, axes)
    fig.suptitle(
        over_time_caption(run, f"Actor and critic gradient norms (0 drawn at {LOG_FLOOR:g})", window)
        + "; means of log10",
        fontsize=9,
    )
    return fig


def plot_saturation_over_time(run: Run, fig=None, window: int | None = None):
    """The share of actor outputs of the activation in use beyond ``SATURATION_LEVEL``."""
    window = window or default_window(run)
    fig, axes = panels_per_actor_lr(run, fig, rows=1)
    draw_over_time(axes[0], run, run.metrics["saturation"], window)
    for ax in axes[0]:
        ax.axhline(SATURATION_LEVEL, color="black", linestyle="--", lw=0.7)
        ax.set_ylim(-0.02, 1.02)
    axes[0, 0].set_ylabel(f"share of outputs with |a| > {SATURATION_LEVEL}")
    critic_legend(fig, axes)
    fig.suptitle(
        over_time_caption(run, f"Actor output saturation over training (dashed: {SATURATION_LEVEL})", window),
        fontsize=9,
    )
    return fig


def plot_preactivations_over_time(run: Run, fig=None, window: int | None = None):
    """A row for the mean of the actors' output pre-activations z, one for their standard
    deviation: saturation comes from either growing past the activation's flat range."""
    window = window or default_window(run)
    fig, axes = panels_per_actor_lr(run, fig, rows=2)
    for row, (metric, label) in zip(axes, (("preact_mean", "mean of z"), ("preact_std", "standard deviation of z"))):
        draw_over_time(row, run, run.metrics[metric], window)
        row[0].set_ylabel(label)
        row[0].set_yscale("symlog", linthresh=2.0)
    for ax in axes[0]:
        for bound in (-2, 2):
            ax.axhline(bound, color="black", linestyle="--", lw=0.7)
    for ax in axes[1]:
        ax.axhline(2, color="black", linestyle="--", lw=0.7)
    critic_legend(fig, axes)
    fig.suptitle(
        over_time_caption(run, "Pre-activations z of the actors' output layer (dashed: |z| = 2; symlog axis)", window),
        fontsize=9,
    )
    return fig


def plot_learning_curves(
    run: Run, fig=None, window: int | None = None, heuristic_rewards: dict[str, dict[int, float]] | None = None
):
    """The training reward; dotted: each configuration's median all-actors stopping episode.
    With ``heuristic_rewards`` (heuristic → seed → evaluation reward, ``report.baselines``)
    their means over seeds as grey reference lines in every panel."""
    window = window or default_window(run)
    fig, axes = panels_per_actor_lr(run, fig, rows=1, height=3.2)
    draw_over_time(axes[0], run, run.metrics["train_reward"], window)
    for ax, a in zip(axes[0], run.actor_lrs):
        for c in run.critic_lrs:
            stop = np.median([run.stop(lane) for lane in run.select(actor_lr=a, critic_lr=c)])
            if stop < run.episodes:
                ax.axvline(stop, color=critic_colour(run, c), linestyle=":", lw=1.0)
        for name, per_seed in (heuristic_rewards or {}).items():
            mean = np.mean(list(per_seed.values()))
            ax.axhline(mean, color="0.45", lw=0.9, linestyle=HEURISTIC_STYLES[name], label=f"{name} ({mean:,.0f})")
    axes[0, 0].set_ylabel("training episode reward")
    thousands_axis(axes[0, 0], run.metrics["train_reward"])
    critic_legend(fig, axes)
    grey = "; grey: heuristic policies on the lanes' evaluation episodes, mean over seeds" if heuristic_rewards else ""
    fig.suptitle(
        over_time_caption(run, "Learning curves; dotted: median all-actors stopping episode" + grey, window), fontsize=9
    )
    return fig
