"""The figures of one run (one variant), one function each: ``fig_…(run, out) → written
paths`` (PNG and PDF; helpers in ``drawing``). Saturation is that of the output activation
in use.
"""

from __future__ import annotations

import numpy as np

from jaxmadrl.agents.diagnostics import SATURATION_LEVEL
from jaxmadrl.report.analysis import reference_stopping, saturation_onset
from jaxmadrl.report.drawing import (
    LOG_FLOOR,
    actor_colour,
    cell_spread_text,
    config_style,
    heatmap,
    legend_outside,
    plot_over_time,
    plt,
    save,
    seed_band,
    seeds_note,
    smooth,
)
from jaxmadrl.store.loading import Run


def fig_stopping_heatmap(run: Run, out):
    fig, ax = plt.subplots(figsize=(6.5, 5))
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
    return save(fig, out, "fig01_stopping_heatmap")


def fig_stopping_bubbles(run: Run, out):
    fig, ax = plt.subplots(figsize=(6, 5))
    stops = np.nanmedian(run.per_config(run.stop), -1)
    for i, a in enumerate(run.actor_lrs):
        for j, c in enumerate(run.critic_lrs):
            ax.scatter(
                c,
                a,
                s=30 + 900 * stops[i, j] / run.episodes,
                color=plt.get_cmap("RdYlGn")(stops[i, j] / run.episodes),
                edgecolor="black",
                alpha=0.85,
            )
            ax.annotate(f"{stops[i, j]:.0f}", (c, a), ha="center", va="center", fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("critic learning rate")
    ax.set_ylabel("actor learning rate")
    ax.set_title("Stopping episode (bubble size grows with the episodes before all actors stop)")
    ax.margins(0.25)
    return save(fig, out, "fig02_stopping_bubbles")


def fig_asymmetry_over_time(run: Run, out):
    fig, ax = plt.subplots(figsize=(9, 5))
    plot_over_time(ax, run, run.metrics["grad_ratio"], floor=LOG_FLOOR)
    ax.set_yscale("log")
    ax.set_ylabel("ρ = actor / critic gradient norm")
    ax.set_title("Gradient asymmetry ratio over training" + seeds_note(run) + f"; 0 drawn at {LOG_FLOOR:g}")
    legend_outside(ax)
    return save(fig, out, "fig03_asymmetry_over_time")


def fig_gradient_norms_over_time(run: Run, out):
    fig, ax = plt.subplots(figsize=(9, 5))
    episodes = np.arange(1, run.episodes + 1)
    for a, c in run.configs():
        style = config_style(run, a, c)
        actor = np.maximum(seed_band(run, run.metrics["actor_grad_norm"], a, c)[0], LOG_FLOOR)
        critic = np.maximum(seed_band(run, run.metrics["critic_grad_norm"], a, c)[0], LOG_FLOOR)
        ax.plot(episodes, actor, color=style["color"], lw=1.0, label=style["label"] + " (actor)")
        ax.plot(episodes, critic, color=style["color"], lw=0.8, linestyle="--", alpha=0.7)
    ax.set_yscale("log")
    ax.set_xlabel("episode")
    ax.set_ylabel("gradient L2 norm (actor: RMS over agents)")
    ax.set_title("Actor (solid) vs critic (dashed) gradient norms" + seeds_note(run))
    legend_outside(ax)
    return save(fig, out, "fig04_gradient_norms_over_time")


def representative_configs(run: Run) -> list[tuple[float, float]]:
    critic = run.critic_lrs[len(run.critic_lrs) // 2 - (1 if len(run.critic_lrs) % 2 == 0 else 0)]
    return [(run.actor_lrs[0], critic), (run.actor_lrs[-1], critic)]


def fig_layer_gradients_final(run: Run, out):
    configs = representative_configs(run)
    fig, axes = plt.subplots(1, len(configs), figsize=(5 * len(configs), 4), squeeze=False)
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
        ax.legend(fontsize=7)
    return save(fig, out, "fig05_layer_gradients_final")


def scatter_against_stop(run: Run, value_of_lane, ylabel: str, title: str, log: bool, out, name: str):
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
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
    return save(fig, out, name)


def fig_final_asymmetry_vs_stopping(run: Run, out):
    return scatter_against_stop(
        run,
        lambda lane: run.metrics["grad_ratio"][lane, -1],
        "final ρ (actor / critic)",
        f"Final gradient asymmetry vs stopping (0 drawn at {LOG_FLOOR:g})",
        True,
        out,
        "fig06_final_asymmetry_vs_stopping",
    )


def fig_saturation_over_time(run: Run, out):
    fig, ax = plt.subplots(figsize=(9, 5))
    plot_over_time(ax, run, run.metrics["saturation"])
    ax.axhline(SATURATION_LEVEL, color="black", linestyle="--", lw=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel(f"fraction of actor outputs with |output| > {SATURATION_LEVEL}")
    ax.set_title("Actor output saturation over training" + seeds_note(run) + f"; dashed: {SATURATION_LEVEL}")
    legend_outside(ax)
    return save(fig, out, "fig07_saturation_over_time")


def fig_preactivations_over_time(run: Run, out):
    fig, ax = plt.subplots(figsize=(9, 5))
    episodes = np.arange(1, run.episodes + 1)
    for a, c in run.configs():
        style = config_style(run, a, c)
        mean = seed_band(run, run.metrics["preact_mean"], a, c)[0]
        std = seed_band(run, run.metrics["preact_std"], a, c)[0]
        ax.plot(episodes, mean, lw=1.2, **style)
        ax.fill_between(episodes, mean - std, mean + std, color=style["color"], alpha=0.08, lw=0)
    for bound in (-2, 2):
        ax.axhline(bound, color="black", linestyle="--", lw=0.8)
    ax.set_yscale("symlog", linthresh=2.0)
    ax.set_xlabel("episode")
    ax.set_ylabel("output pre-activation z (mean ± std)")
    ax.set_title("Pre-activations of the actors' output layer" + seeds_note(run) + "; dashed: ±2")
    legend_outside(ax)
    return save(fig, out, "fig08_preactivations_over_time")


def fig_final_saturation_heatmap(run: Run, out):
    fig, ax = plt.subplots(figsize=(6.5, 5))
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
    return save(fig, out, "fig09_final_saturation_heatmap")


def fig_saturation_vs_stopping(run: Run, out):
    return scatter_against_stop(
        run,
        lambda lane: run.metrics["saturation"][lane, -1],
        "final saturation ratio",
        "Final saturation vs stopping episode",
        False,
        out,
        "fig10_saturation_vs_stopping",
    )


HEURISTIC_STYLES = {"all_local": "-", "offload_all": "--", "random": "-.", "greedy": (0, (1, 1))}


def fig_learning_curves(run: Run, out, window: int, heuristic_rewards: dict[str, dict[int, float]] | None = None):
    """The training reward per configuration; with ``heuristic_rewards`` (heuristic → seed →
    evaluation reward, ``report.baselines``) their means over seeds as grey reference lines."""
    fig, ax = plt.subplots(figsize=(9, 5))
    reward = smooth(run.metrics["train_reward"], window)
    plot_over_time(ax, run, reward)
    for a, c in run.configs():
        stop = np.median([run.stop(lane) for lane in run.select(actor_lr=a, critic_lr=c)])
        if stop < run.episodes:
            ax.axvline(stop, color=actor_colour(run, a), linestyle=":", lw=0.9)
    for name, per_seed in (heuristic_rewards or {}).items():
        mean = np.mean(list(per_seed.values()))
        ax.axhline(mean, color="0.45", lw=1.0, linestyle=HEURISTIC_STYLES[name], label=f"{name} ({mean:,.0f})")
    ax.set_ylabel(f"training episode reward ({window}-episode moving average)")
    grey = "\ngrey: heuristic policies on the lanes' evaluation episodes, mean over seeds" if heuristic_rewards else ""
    ax.set_title("Learning curves; dotted: all-actors stopping episode" + seeds_note(run) + grey, fontsize=9)
    legend_outside(ax)
    return save(fig, out, "fig11_learning_curves")


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


def fig_reward_at_stop_vs_end(run: Run, out, window: int):
    reward = smooth(run.metrics["train_reward"], window)
    configs = run.configs()
    at_stop = rewards_at_stop(run, reward)
    at_end = [np.mean(reward[run.select(actor_lr=a, critic_lr=c), -1]) for a, c in configs]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    x = np.arange(len(configs))
    ax.bar(
        x - 0.2,
        at_stop,
        0.4,
        label="at the stopping episode (seeds that stopped)",
        color=[actor_colour(run, a) for a, _ in configs],
    )
    ax.bar(x + 0.2, at_end, 0.4, label="at the end", color="grey")
    ax.set_xticks(x, [f"{a:g}/{c:g}" for a, c in configs], rotation=60, fontsize=7)
    ax.set_xlabel("actor LR / critic LR")
    ax.set_ylabel(f"training reward ({window}-episode mean)")
    ax.set_title(
        "Reward when the actors stop vs at the end of training" + seeds_note(run) + "; no left bar: no seed stopped"
    )
    ax.legend(fontsize=8)
    return save(fig, out, "fig12_reward_at_stop_vs_end")


def fig_per_agent_stopping(run: Run, out):
    configs = run.configs()
    data = []
    for a, c in configs:
        agents = [v for lane in run.select(actor_lr=a, critic_lr=c) for v in run.lanes[lane]["actor_first_unchanged"]]
        data.append([run.episodes if v is None else v for v in agents])
    fig, ax = plt.subplots(figsize=(10, 4.5))
    boxes = ax.boxplot(data, patch_artist=True, widths=0.6)
    for patch, (a, _) in zip(boxes["boxes"], configs):
        patch.set_facecolor(actor_colour(run, a))
    ax.set_xticks(range(1, len(configs) + 1), [f"{a:g}/{c:g}" for a, c in configs], rotation=60, fontsize=7)
    ax.set_xlabel("actor LR / critic LR")
    ax.set_ylabel(f"first unchanged episode per agent ({run.episodes} = never)")
    ax.set_title(f"Per-agent stopping episodes ({run.definition.train.spec.n_agents} agents × {run.seeds} seed(s))")
    return save(fig, out, "fig13_per_agent_stopping")


def fig_stopping_spread(run: Run, out):
    stops = run.per_config(run.stop)
    fig, ax = plt.subplots(figsize=(6.5, 5))
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
    return save(fig, out, "fig14_stopping_spread")


def fig_onset_vs_effective_lr(run: Run, out):
    """Saturation onset (first episode with saturation > 0.9) vs η_actor·|R|, R the mean
    per-step reward over the first 10 episodes (the scale the critic's Q and hence the
    actors' gradients inherit)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
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
    ax.set_title("Saturation onset vs effective learning rate (never-saturating lanes omitted)")
    ax.legend(fontsize=7)
    return save(fig, out, "fig15_saturation_onset_vs_effective_lr")


def fig_reference_vs_ours(run: Run, out):
    table = reference_stopping()
    reference = np.array([[[table.get((a, c), np.nan)] for c in run.critic_lrs] for a in run.actor_lrs])
    ours = run.per_config(run.stop)
    top = max(2000, run.episodes)  # one colour scale for both panels
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
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
    return save(fig, out, "fig16_reference_vs_ours")
