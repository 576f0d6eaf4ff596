"""The one-panel figures of a run (one variant) and the two-panel ones of fixed layout, one
function each: ``plot_…(run, ax=None) → Figure`` draws into ``ax`` (a notebook's panel) or a
new figure and returns it, unsaved (``drawing.save`` writes PNG and PDF); a figure of
several panels takes ``fig=None`` (a Figure or SubFigure) instead. The figures over
episodes are in ``over_time``. Saturation is that of the output activation in use.
"""

from __future__ import annotations

import matplotlib
import numpy as np

from jaxmadrl.agents.diagnostics import SATURATION_LEVEL
from jaxmadrl.report.analysis import reference_stopping, saturation_onset
from jaxmadrl.report.drawing import (
    LOG_FLOOR,
    actor_colour,
    cell_spread_text,
    default_window,
    heatmap,
    legend_outside,
    new_axes,
    new_figure,
    smooth,
    thousands_axis,
)
from jaxmadrl.store.loading import Run


def plot_stopping_heatmap(run: Run, ax=None):
    fig, ax = new_axes(ax, (6.5, 5))
    heatmap(
        ax,
        run,
        run.per_config(run.stop),
        f"All-actors stopping episode ({run.episodes} = never)",
        cell_spread_text,
        "RdYlGn",
        0,
        run.episodes,
        "episode",
    )
    return fig


def plot_stopping_bubbles(run: Run, ax=None):
    fig, ax = new_axes(ax, (6, 5))
    stops = np.nanmedian(run.per_config(run.stop), -1)
    for i, a in enumerate(run.actor_lrs):
        for j, c in enumerate(run.critic_lrs):
            colour = matplotlib.colormaps["RdYlGn"](stops[i, j] / run.episodes)
            ax.scatter(c, a, s=250 + 900 * stops[i, j] / run.episodes, color=colour, edgecolor="black", alpha=0.85)
            dark = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2] < 0.5
            ax.annotate(
                f"{stops[i, j]:.0f}", (c, a), ha="center", va="center", fontsize=7, color="white" if dark else "black"
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("critic learning rate")
    ax.set_ylabel("actor learning rate")
    ax.set_title(
        f"All-actors stopping episode, median over seeds ({run.episodes} = never)\n"
        "bubble size grows with the episodes before all actors stop",
        fontsize=9,
    )
    ax.margins(0.25)
    return fig


def representative_configs(run: Run) -> list[tuple[float, float]]:
    critic = run.critic_lrs[len(run.critic_lrs) // 2 - (1 if len(run.critic_lrs) % 2 == 0 else 0)]
    return [(run.actor_lrs[0], critic), (run.actor_lrs[-1], critic)]


def plot_layer_gradients_final(run: Run, fig=None):
    """Per layer, the actors' and the critic's gradient norms at the last episode, at the
    smallest and the largest actor learning rate (one panel each)."""
    configs = representative_configs(run)
    fig = new_figure(fig, (5 * len(configs), 4))
    axes = fig.subplots(1, len(configs), squeeze=False)
    for ax, (a, c) in zip(axes[0], configs):
        lanes = run.select(actor_lr=a, critic_lr=c)
        actor = np.mean(run.metrics["actor_grad_norm_layers"][lanes, -1], 0)
        critic = np.mean(run.metrics["critic_grad_norm_layers"][lanes, -1], 0)
        x = np.arange(actor.shape[0])
        ax.bar(x - 0.2, np.maximum(actor, LOG_FLOOR), 0.4, label="actor (RMS over agents)", color=actor_colour(run, a))
        ax.bar(x + 0.2, np.maximum(critic, LOG_FLOOR), 0.4, label="critic", color="grey")
        for xi, value in zip(x, actor):
            if value == 0:
                ax.annotate("0", (xi - 0.2, LOG_FLOOR), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x, [f"fc{i + 1}" for i in x])
        ax.set_yscale("log")
        ax.set_ylabel("gradient L2 norm at the final episode")
        ax.set_title(f"actor LR {a:g}, critic LR {c:g} (stops at {np.median([run.stop(lane) for lane in lanes]):.0f})")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=2, frameon=False)
    return fig


def scatter_against_stop(run: Run, value_of_lane, ylabel: str, title: str, log: bool, ax):
    fig, ax = new_axes(ax, (6.5, 4.5))
    for a in run.actor_lrs:
        lanes = [r["lane"] for r in run.lanes if r["actor_lr"] == a]
        values = np.array([value_of_lane(lane) for lane in lanes])
        ax.scatter(
            [run.stop(lane) for lane in lanes],
            np.maximum(values, LOG_FLOOR) if log else values,
            color=actor_colour(run, a),
            label=f"actor LR {a:g}",
            edgecolor="black",
            lw=0.4,
        )
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(f"all-actors stopping episode ({run.episodes} = never)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


def plot_final_asymmetry_vs_stopping(run: Run, ax=None):
    return scatter_against_stop(
        run,
        lambda lane: run.metrics["grad_ratio"][lane, -1],
        "final ρ (actor / critic)",
        f"Final gradient asymmetry vs stopping (0 drawn at {LOG_FLOOR:g})",
        True,
        ax,
    )


def plot_final_saturation_heatmap(run: Run, ax=None):
    fig, ax = new_axes(ax, (6.5, 5))
    heatmap(
        ax,
        run,
        run.per_config(lambda lane: run.metrics["saturation"][lane, -1]),
        "Final output saturation",
        lambda cell: cell_spread_text(cell, "{:.2f}"),
        "magma_r",
        0,
        1,
        "saturation ratio",
    )
    return fig


def plot_saturation_vs_stopping(run: Run, ax=None):
    return scatter_against_stop(
        run,
        lambda lane: run.metrics["saturation"][lane, -1],
        "final saturation ratio",
        "Final saturation vs stopping episode",
        False,
        ax,
    )


def rewards_at_stop(run: Run, reward: np.ndarray) -> list[float]:
    """Per configuration (``run.configs()`` order): the mean of ``reward`` (lanes, episodes)
    at the all-actors stopping episode over the seeds that stopped; NaN where none did."""
    means = []
    for a, c in run.configs():
        stopped = [
            reward[lane, run.stop(lane) - 1]
            for lane in run.select(actor_lr=a, critic_lr=c)
            if run.stop(lane) < run.episodes
        ]
        means.append(float(np.mean(stopped)) if stopped else np.nan)
    return means


def plot_reward_at_stop_vs_end(run: Run, ax=None, window: int | None = None):
    """The training reward (``window``-episode trailing mean) at the all-actors stopping
    episode and at the end, per configuration."""
    window = window or default_window(run)
    reward = smooth(run.metrics["train_reward"], window)
    configs = run.configs()
    at_stop = rewards_at_stop(run, reward)
    at_end = [np.mean(reward[run.select(actor_lr=a, critic_lr=c), -1]) for a, c in configs]
    fig, ax = new_axes(ax, (10, 4.5))
    x = np.arange(len(configs))
    ax.bar(x - 0.2, at_stop, 0.4, color=[actor_colour(run, a) for a, _ in configs])
    ax.bar(x + 0.2, at_end, 0.4, label="at the end", color="grey")
    for a in run.actor_lrs:  # the left bars' colours: one legend entry per actor LR
        ax.bar([0], [np.nan], color=actor_colour(run, a), label=f"at the stopping episode, actor LR {a:g}")
    thousands_axis(ax, at_end)
    ax.set_xticks(x, [f"{a:g}/{c:g}" for a, c in configs], rotation=60, fontsize=7)
    ax.set_xlabel("actor LR / critic LR")
    ax.set_ylabel(f"training reward ({window}-episode trailing mean)")
    ax.set_title(
        "Reward when the actors stop vs at the end of training"
        + (f" (mean of {run.seeds} seeds)" if run.seeds > 1 else "")
        + "; no left bar: no seed stopped",
        fontsize=9,
    )
    legend_outside(ax)
    return fig


def plot_per_agent_stopping(run: Run, ax=None):
    configs = run.configs()
    data = []
    for a, c in configs:
        agents = [v for lane in run.select(actor_lr=a, critic_lr=c) for v in run.lanes[lane]["actor_first_unchanged"]]
        data.append([run.episodes if v is None else v for v in agents])
    fig, ax = new_axes(ax, (10, 4.5))
    boxes = ax.boxplot(data, patch_artist=True, widths=0.6)
    for patch, (a, _) in zip(boxes["boxes"], configs):
        patch.set_facecolor(actor_colour(run, a))
    ax.set_xticks(range(1, len(configs) + 1), [f"{a:g}/{c:g}" for a, c in configs], rotation=60, fontsize=7)
    ax.set_xlabel("actor LR / critic LR")
    ax.set_ylabel(f"first unchanged episode per agent ({run.episodes} = never)")
    ax.set_title(f"Per-agent stopping episodes ({run.definition.train.spec.n_agents} agents × {run.seeds} seed(s))")
    return fig


def plot_stopping_spread(run: Run, ax=None):
    stops = run.per_config(run.stop)
    fig, ax = new_axes(ax, (6.5, 5))
    spread = np.nanmax(stops, -1) - np.nanmin(stops, -1)
    heatmap(
        ax,
        run,
        spread[..., None],
        f"Across-seed range of the stopping episode ({run.seeds} seeds)",
        lambda cell: f"{cell[0]:.0f}",
        "Blues",
        0,
        None,
        "max − min (episodes)",
    )
    return fig


def plot_onset_vs_effective_lr(run: Run, ax=None):
    """Saturation onset (first episode with saturation > 0.9) vs η_actor·|R|, R the mean
    per-step reward over the first 10 episodes (the scale the critic's Q and hence the
    actors' gradients inherit)."""
    fig, ax = new_axes(ax, (6.5, 4.5))
    steps = run.definition.train.spec.steps_per_episode
    for lane, row in enumerate(run.lanes):
        reward_scale = abs(np.mean(run.metrics["train_reward"][lane, :10])) / steps
        onset = saturation_onset(run.metrics["saturation"][lane])
        if np.isfinite(onset):
            ax.scatter(
                row["actor_lr"] * reward_scale,
                onset,
                color=actor_colour(run, row["actor_lr"]),
                marker="o",
                edgecolor="black",
                lw=0.4,
            )
    for a in run.actor_lrs:
        ax.scatter([], [], color=actor_colour(run, a), label=f"actor LR {a:g}")
    ax.set_xscale("log")
    ax.set_xlabel("effective actor step η·|R| (R: mean reward per step, first 10 episodes)")
    ax.set_ylabel(f"saturation onset episode (> {SATURATION_LEVEL})")
    ax.set_title("Saturation onset vs effective learning rate\n(lanes that never saturate are left out)", fontsize=9)
    ax.legend(fontsize=7)
    return fig


def plot_reference_vs_ours(run: Run, fig=None):
    """The paper's Table 3 next to this run's all-actors stopping episodes, on one colour scale."""
    table = reference_stopping()
    reference = np.array([[[table.get((a, c), np.nan)] for c in run.critic_lrs] for a in run.actor_lrs])
    ours = run.per_config(run.stop)
    top = max(2000, run.episodes)  # one colour scale for both panels
    fig = new_figure(fig, (12, 5))
    axes = fig.subplots(1, 2)
    heatmap(
        axes[0],
        run,
        reference,
        "Reference (PyTorch, paper Table 3, 2000 episodes)",
        cell_spread_text,
        "RdYlGn",
        0,
        top,
        "episode",
    )
    heatmap(
        axes[1],
        run,
        ours,
        f"This reproduction ({run.seeds} seed(s), {run.episodes} episodes)",
        cell_spread_text,
        "RdYlGn",
        0,
        top,
        "episode",
    )
    return fig
