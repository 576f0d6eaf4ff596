"""A MEC run against the reference implementation's logged run (``data/reference_logged_run.json``,
one seed per configuration, extracted by ``tools/extract_reference_run.py``) and the paper's
Table 3: stopping episodes, training-reward curves and the actors' output statistics."""

from __future__ import annotations

import functools
import json

import numpy as np

from jaxmadrl.core import paths
from jaxmadrl.report.analysis import reference_stopping, reward_spread_text, reward_text
from jaxmadrl.report.drawing import actor_colour, new_figure
from jaxmadrl.store.loading import Run

WINDOW = 100  # episodes per reward window
LOGGED_EPISODES = (10, 50, 100, 200)  # where the output statistics are compared


@functools.cache
def logged_run() -> dict[tuple[float, float], dict]:
    """(actor LR, critic LR) → the reference's logged configuration: "all_actors_stopped",
    "actor_stopped" (N,), "train_reward" (episodes run,), "tracked" (rows every 10 episodes)."""
    document = json.loads((paths.DATA_DIR / "reference_logged_run.json").read_text())
    return {(c["actor_lr"], c["critic_lr"]): c for c in document["configurations"]}


def shared_configs(run: Run) -> list[tuple[float, float]]:
    """The run's configurations that the logged run also has (ValueError if none)."""
    configs = [config for config in run.configs() if config in logged_run()]
    if not configs:
        raise ValueError("no learning-rate configuration in common with the reference's logged run")
    if run.episodes < WINDOW:
        raise ValueError(f"the comparison needs at least one {WINDOW}-episode window, the run has {run.episodes}")
    return configs


def window_means(rewards: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """(…, E) → (…, E // window): the mean of each whole window of episodes."""
    whole = rewards.shape[-1] // window * window
    return rewards[..., :whole].reshape(*rewards.shape[:-1], -1, window).mean(-1)


def reward_agreement(run: Run, actor_lr: float, critic_lr: float) -> tuple[int, int]:
    """(windows where the reference's mean reward lies within our seeds' [min, max] of window
    means, windows compared): the windows both ran in full."""
    reference = window_means(np.asarray(logged_run()[actor_lr, critic_lr]["train_reward"]))
    ours = window_means(run.metrics["train_reward"][run.select(actor_lr=actor_lr, critic_lr=critic_lr)])
    n = min(reference.size, ours.shape[1])
    inside = (reference[:n] >= ours[:, :n].min(0)) & (reference[:n] <= ours[:, :n].max(0))
    return int(inside.sum()), n


def _stopping_rows(run: Run) -> list[str]:
    table3 = reference_stopping()
    rows = [
        "| actor LR | critic LR | Table 3 | logged | ours: all actors | logged: per agent | ours: per agent |",
        "|---|---|---|---|---|---|---|",
    ]
    for a, c in shared_configs(run):
        logged = logged_run()[a, c]
        never = run.episodes
        per_agent_ref = [never if e is None else e for e in logged["actor_stopped"]]
        lanes = run.select(actor_lr=a, critic_lr=c)
        per_agent = [never if e is None else e for lane in lanes for e in run.lanes[lane]["actor_first_unchanged"]]
        ours = [run.stop(lane) for lane in lanes]
        rows.append(
            f"| {a:g} | {c:g} | {table3.get((a, c), '–')} | {logged['all_actors_stopped']} | "
            f"{_spread(ours)} | {_spread(per_agent_ref)} | {_spread(per_agent)} |"
        )
    return rows


def _spread(values) -> str:
    return f"{np.median(values):.0f} [{min(values)}…{max(values)}]"


def _reward_rows(run: Run) -> tuple[list[str], int]:
    rows = [
        f"| actor LR | critic LR | logged: first → last {WINDOW} | ours: first → last {WINDOW} | windows inside |",
        "|---|---|---|---|---|",
    ]
    all_inside = 0
    for a, c in shared_configs(run):
        reference = window_means(np.asarray(logged_run()[a, c]["train_reward"]))
        ours = window_means(run.metrics["train_reward"][run.select(actor_lr=a, critic_lr=c)])
        inside, n = reward_agreement(run, a, c)
        all_inside += inside == n
        rows.append(
            f"| {a:g} | {c:g} | {reward_text(reference[0])} → {reward_text(reference[n - 1])} | "
            f"{reward_spread_text(ours[:, 0])} → {reward_spread_text(ours[:, n - 1])} | {inside}/{n} |"
        )
    return rows, all_inside


def _output_rows(run: Run) -> list[str]:
    """Logged against ours: saturation, z std and max, and the output mean where the run has it
    (recorded since 2026-12-02)."""
    columns = [
        ("saturation", "saturation", "saturation"),
        ("z std", "std", "preact_std"),
        ("z max", "max", "preact_max"),
    ]
    columns += [("output mean", "output_mean", "output_mean")] if "output_mean" in run.metrics else []
    rows = [
        "| actor LR | critic LR | episode | " + " | ".join(f"logged: {label} | ours" for label, _, _ in columns) + " |",
        "|---" * (3 + 2 * len(columns)) + "|",
    ]
    for a, c in shared_configs(run):
        tracked = {row["episode"]: row for row in logged_run()[a, c]["tracked"]}
        lanes = run.select(actor_lr=a, critic_lr=c)
        for episode in (e for e in LOGGED_EPISODES if e in tracked and e <= run.episodes):
            cells = [
                f"{tracked[episode][logged]:.2f} | {np.median(run.metrics[ours][lanes, episode - 1]):.2f}"
                for _, logged, ours in columns
            ]
            rows.append(f"| {a:g} | {c:g} | {episode} | " + " | ".join(cells) + " |")
    return rows


def _gradient_rows(run: Run) -> list[str]:
    """Logged against ours: the accumulated actor and critic norms per layer (fc1, fc2, fc3),
    where the run has them (recorded since 2026-12-02)."""
    if "accumulated_actor_grad_norm_layers" not in run.metrics:
        return ["(this run predates the per-layer accumulated norms; rerun it to compare them)"]
    rows = [
        "| actor LR | critic LR | episode | logged: actor per layer | ours | logged: critic per layer | ours |",
        "|---|---|---|---|---|---|---|",
    ]
    text = lambda values: ", ".join(f"{value:.3g}" for value in values)
    for a, c in shared_configs(run):
        tracked = {row["episode"]: row for row in logged_run()[a, c]["tracked"]}
        lanes = run.select(actor_lr=a, critic_lr=c)
        for episode in (e for e in LOGGED_EPISODES if e in tracked and e <= run.episodes):
            ours = {
                side: np.median(run.metrics[f"accumulated_{side}_grad_norm_layers"][lanes, episode - 1], axis=0)
                for side in ("actor", "critic")
            }
            logged = tracked[episode]
            rows.append(
                f"| {a:g} | {c:g} | {episode} | {text(logged['actor_grad_layers'])} | {text(ours['actor'])} | "
                f"{text(logged['critic_grad_layers'])} | {text(ours['critic'])} |"
            )
    return rows


def describe_reference_run(run: Run) -> str:
    """Markdown: stopping (Table 3, the logged run, ours), reward windows, output statistics."""
    configs = shared_configs(run)
    reward_rows, all_inside = _reward_rows(run)
    world = run.definition.train.env.world
    return (
        "\n".join(
            [
                f"Ours: {run.seeds} seed(s), {run.episodes} episodes, world {world!r}. The reference's logged run: "
                "one seed per configuration on its one world; it ends 101 episodes after all its actors stopped.",
                "",
                f"## Stopping episodes ({run.episodes} = never; ours: median [min…max] over seeds or agents × seeds)",
                "",
                *_stopping_rows(run),
                "",
                f"## Training reward, {WINDOW}-episode windows (ours: median [min…max] over seeds)",
                "",
                f"The reference's window mean lies within our seeds' range in every window in {all_inside} of "
                f"{len(configs)} configurations.",
                "",
                *reward_rows,
                "",
                "## Actor outputs at logged episodes (ours: median over seeds; the reference's values pool the "
                "10 episodes before the logged one, ours are the episode's own)",
                "",
                *_output_rows(run),
                "",
                "## Accumulated gradient norms per layer at logged episodes (ours: median over seeds)",
                "",
                *_gradient_rows(run),
            ]
        )
        + "\n"
    )


def plot_reference_logged_run(run: Run, fig=None):
    """Small multiples, one panel per shared configuration: our seeds' 100-episode window
    means (median, min–max band) and the reference's logged run."""
    configs = shared_configs(run)
    actor_lrs = sorted({a for a, _ in configs})
    critic_lrs = sorted({c for _, c in configs})
    fig = new_figure(fig, (3 * len(critic_lrs), 2.4 * len(actor_lrs) + 0.6))
    axes = fig.subplots(len(actor_lrs), len(critic_lrs), sharex=True, squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for a, c in configs:
        ax = axes[actor_lrs.index(a), critic_lrs.index(c)]
        ax.set_visible(True)
        ours = window_means(run.metrics["train_reward"][run.select(actor_lr=a, critic_lr=c)]) / 1e3
        reference = window_means(np.asarray(logged_run()[a, c]["train_reward"])) / 1e3
        centres = (np.arange(ours.shape[1]) + 0.5) * WINDOW
        ax.fill_between(centres, ours.min(0), ours.max(0), color=actor_colour(run, a), alpha=0.25, lw=0)
        ax.plot(centres, np.median(ours, 0), color=actor_colour(run, a), lw=1.2, label="ours (median)")
        ax.plot((np.arange(reference.size) + 0.5) * WINDOW, reference, color="black", lw=1.0, label="reference")
        inside, n = reward_agreement(run, a, c)
        ax.set_title(f"actor {a:g}, critic {c:g}: {inside}/{n} inside", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("episode", fontsize=8)
    for row in axes:
        row[0].set_ylabel("reward (k)", fontsize=8)
    axes.flat[0].legend(fontsize=6, frameon=False)
    fig.suptitle(
        f"Training reward per {WINDOW}-episode window: our {run.seeds} seed(s) (band min–max) and the "
        "reference's logged run (one seed)",
        fontsize=9,
    )
    return fig
