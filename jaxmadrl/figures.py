"""Regenerate the paper's figures (and a few more) and the check of its claims
(``claims.md``) from a finished sweep run.

    python -m jaxmadrl.figures --run sweeps/runs/all16-3seeds-main --out figures/
    python -m jaxmadrl.figures --compare_sizes RUN_A,RUN_B,... --out figures/actor-size/

Every figure is written as PNG and PDF. With several seeds, curves show the mean across
seeds with a min–max band, and heatmaps the median with the range. Colour encodes the
actor learning rate everywhere; line style the critic learning rate.

A run with several variants (e.g. ``--sweep mitigations``) gets the figures and claims of
each variant in ``OUT/<variant>/``, and in ``OUT/`` the heatmaps of all variants side by
side (``fig17_variants``) and their comparison in words and numbers (``variants.md``).
Runs that differ only in network sizes are compared with ``--compare_sizes``
(``fig18_network_sizes``, ``sizes.md``).
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
import warnings
import zipfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from jaxmadrl import cli, files, provenance  # noqa: E402
from jaxmadrl.diagnostics import SATURATION_LEVEL  # noqa: E402
from jaxmadrl.grid import SweepDefinition  # noqa: E402
from jaxmadrl.networks import ACTIVATION_NAMES  # noqa: E402

flags.DEFINE_string("run", None, "A finished sweep run directory (with summary.json and metrics.npz).")
flags.DEFINE_list("compare_sizes", None, "Instead of --run: finished runs of the same grid that differ only in "
                  "network sizes; writes fig18_network_sizes and sizes.md comparing them.")
flags.DEFINE_string("out", "figures", "Where to write the figures.")
flags.DEFINE_integer("smooth", 50, "Moving-average window (episodes) for reward curves.")
FLAGS = flags.FLAGS

# SPEC §6 / paper Table 3: all-actors stopping episode of the PyTorch reference (single runs;
# 2000 = never stopped). Keys: (actor LR, critic LR).
REFERENCE_STOPPING = {
    (1e-4, 1e-4): 2000, (1e-4, 1e-3): 2000, (1e-4, 1e-2): 2000, (1e-4, 1e-1): 696,
    (1e-3, 1e-4): 2000, (1e-3, 1e-3): 2000, (1e-3, 1e-2): 2000, (1e-3, 1e-1): 763,
    (1e-2, 1e-4): 233, (1e-2, 1e-3): 233, (1e-2, 1e-2): 233, (1e-2, 1e-1): 247,
    (1e-1, 1e-4): 215, (1e-1, 1e-3): 217, (1e-1, 1e-2): 176, (1e-1, 1e-1): 161,
}
LOG_FLOOR = 1e-12  # where an exactly-zero value is drawn on a log axis


class RunError(Exception):
    """The run directory cannot be plotted (missing or incomplete)."""


@dataclasses.dataclass
class Run:
    """A finished sweep: its definition, one summary row per lane and the metrics
    (each (lanes, episodes, ...))."""

    definition: SweepDefinition
    lanes: list[dict]
    metrics: dict[str, np.ndarray]
    environment: list[dict] | None = None  # one record per session that computed it (provenance)

    @property
    def episodes(self) -> int:
        return self.definition.episodes

    @property
    def actor_lrs(self) -> list[float]:
        return sorted(self.definition.actor_lrs)

    @property
    def critic_lrs(self) -> list[float]:
        return sorted(self.definition.critic_lrs)

    @property
    def seeds(self) -> int:
        return self.definition.seeds

    @property
    def variants(self) -> list[str]:
        return list(self.definition.variants)

    def only_variant(self, variant: str) -> "Run":
        """The lanes of one variant as a run of their own (lanes renumbered from 0)."""
        rows = [r for r in self.lanes if r["variant"] == variant]
        index = [r["lane"] for r in rows]
        return Run(definition=dataclasses.replace(self.definition, variants={variant: self.definition.variants[variant]}),
                   lanes=[{**r, "lane": i} for i, r in enumerate(rows)],
                   metrics={k: v[index] for k, v in self.metrics.items()}, environment=self.environment)

    def configs(self) -> list[tuple[float, float]]:
        return [(a, c) for a in self.actor_lrs for c in self.critic_lrs]

    def lanes_of(self, actor_lr: float, critic_lr: float) -> list[int]:
        return [r["lane"] for r in self.lanes if r["actor_lr"] == actor_lr and r["critic_lr"] == critic_lr]

    def stop(self, lane: int) -> int:
        """All-actors stopping episode, ``episodes`` where they never all stopped."""
        value = self.lanes[lane]["all_actors_stopped"]
        return self.episodes if value is None else value

    def per_config(self, value_of_lane) -> np.ndarray:
        """(actor LRs, critic LRs, seeds) array of ``value_of_lane(lane)``."""
        return np.array([[[value_of_lane(lane) for lane in self.lanes_of(a, c)] for c in self.critic_lrs]
                         for a in self.actor_lrs], dtype=float)


def load_run(path: str | None) -> Run:
    if not path:
        raise RunError("--run (or --compare_sizes) is required: a finished sweep run directory")
    run_dir = pathlib.Path(path)
    if not run_dir.is_dir():
        raise RunError(f"--run {run_dir} does not exist")
    if not (run_dir / "sweep.json").is_file():
        raise RunError(f"--run {run_dir} is not a sweep run (no sweep.json)")
    missing = [name for name in ("summary.json", "metrics.npz") if not (run_dir / name).is_file()]
    if missing:
        raise RunError(f"--run {run_dir} is not a finished sweep run (missing {', '.join(missing)}); "
                       f"finish it with python -m jaxmadrl.sweep --resume {run_dir}")
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
        definition = SweepDefinition.from_dict(summary["definition"])
        with np.load(run_dir / "metrics.npz") as saved:
            metrics = dict(saved)
        lanes = len(summary["lanes"])
        shape = metrics["train_reward"].shape
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise RunError(f"--run {run_dir} cannot be read: {error}")
    if shape != (lanes, definition.episodes):
        raise RunError(f"--run {run_dir}: metrics.npz does not match its summary")
    return Run(definition=definition, lanes=summary["lanes"], metrics=metrics, environment=summary.get("environment"))


# --- drawing helpers ----------------------------------------------------------------------

LINESTYLES = ["-", "--", "-.", ":"]


def actor_colour(run: Run, actor_lr: float):
    cmap = plt.get_cmap("plasma")
    return cmap(0.1 + 0.75 * run.actor_lrs.index(actor_lr) / max(1, len(run.actor_lrs) - 1))


def config_style(run: Run, actor_lr: float, critic_lr: float) -> dict:
    return {"color": actor_colour(run, actor_lr),
            "linestyle": LINESTYLES[run.critic_lrs.index(critic_lr) % len(LINESTYLES)],
            "label": f"actor {actor_lr:g}, critic {critic_lr:g}"}


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over the last axis, ignoring NaN; (…, E) → (…, E)."""
    finite = np.isfinite(values)
    filled = np.where(finite, values, 0.0)
    kernel = np.ones(window)
    sums = np.apply_along_axis(lambda v: np.convolve(v, kernel)[: v.shape[0]], -1, filled)
    counts = np.apply_along_axis(lambda v: np.convolve(v, kernel)[: v.shape[0]], -1, finite.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def seed_band(run: Run, series: np.ndarray, actor_lr: float, critic_lr: float):
    """Mean, min and max across the seeds of one configuration; series (lanes, E)."""
    rows = series[run.lanes_of(actor_lr, critic_lr)]
    with warnings.catch_warnings():  # all-NaN columns (e.g. the untrained first episode) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(rows, 0), np.nanmin(rows, 0), np.nanmax(rows, 0)


def plot_over_time(ax, run: Run, series: np.ndarray, floor: float | None = None):
    """One line per configuration (mean across seeds) with a min–max band."""
    episodes = np.arange(1, run.episodes + 1)
    for a, c in run.configs():
        mean, low, high = seed_band(run, series, a, c)
        if floor is not None:
            mean, low, high = (np.maximum(v, floor) for v in (mean, low, high))
        style = config_style(run, a, c)
        ax.plot(episodes, mean, lw=1.2, **style)
        if run.seeds > 1:
            ax.fill_between(episodes, low, high, color=style["color"], alpha=0.12, lw=0)
    ax.set_xlabel("episode")


def heatmap(ax, run: Run, values: np.ndarray, title: str, fmt, cmap: str, vmin=None, vmax=None,
            colorbar_label: str | None = ""):
    """values (actor LRs, critic LRs, seeds): colour = median, text = fmt(cell values)."""
    median = np.nanmedian(values, axis=-1)
    image = ax.imshow(median, cmap=cmap, vmin=vmin, vmax=vmax, origin="lower", aspect="auto")
    for i in range(median.shape[0]):
        for j in range(median.shape[1]):
            red, green, blue, _ = image.cmap(image.norm(median[i, j]))
            dark = np.isfinite(median[i, j]) and 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
            ax.text(j, i, fmt(values[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
    ax.set_xticks(range(len(run.critic_lrs)), [f"{c:g}" for c in run.critic_lrs])
    ax.set_yticks(range(len(run.actor_lrs)), [f"{a:g}" for a in run.actor_lrs])
    ax.set_xlabel("critic learning rate")
    ax.set_ylabel("actor learning rate")
    ax.set_title(title)
    if colorbar_label is not None:
        ax.figure.colorbar(image, ax=ax, label=colorbar_label)
    return image


def spread_text(cell: np.ndarray, fmt: str = "{:.0f}") -> str:
    cell = cell[np.isfinite(cell)]
    if cell.size == 0:
        return "–"
    if cell.size == 1:
        return fmt.format(cell[0])
    return f"{fmt.format(np.median(cell))}\n[{fmt.format(cell.min())}–{fmt.format(cell.max())}]"


def legend_outside(ax):
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def save(fig, out: pathlib.Path, name: str, dpi: int = 150) -> list[pathlib.Path]:
    if fig.get_layout_engine() is None:  # figures laid out as they are drawn keep their layout
        fig.tight_layout()
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    files.write_atomically(paths[0], lambda file: fig.savefig(file, format="png", dpi=dpi))
    files.write_atomically(paths[1], lambda file: fig.savefig(file, format="pdf"))
    plt.close(fig)
    return paths


def write_text(path: pathlib.Path, text: str) -> None:
    files.write_atomically(path, lambda file: file.write(text.encode()))


def seeds_note(run: Run) -> str:
    return f" (mean of {run.seeds} seeds, band = min–max)" if run.seeds > 1 else ""


# --- the figures --------------------------------------------------------------------------

def fig_stopping_heatmap(run: Run, out):
    fig, ax = plt.subplots(figsize=(6.5, 5))
    heatmap(ax, run, run.per_config(run.stop), f"All-actors stopping episode ({run.episodes} = never)",
            spread_text, "RdYlGn", 0, run.episodes, "episode")
    return save(fig, out, "fig01_stopping_heatmap")


def fig_stopping_bubbles(run: Run, out):
    fig, ax = plt.subplots(figsize=(6, 5))
    stops = np.nanmedian(run.per_config(run.stop), -1)
    for i, a in enumerate(run.actor_lrs):
        for j, c in enumerate(run.critic_lrs):
            ax.scatter(c, a, s=30 + 900 * stops[i, j] / run.episodes, color=plt.get_cmap("RdYlGn")(
                stops[i, j] / run.episodes), edgecolor="black", alpha=0.85)
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
        lanes = run.lanes_of(a, c)
        actor = np.mean(run.metrics["actor_grad_norm_layers"][lanes, -1], 0)
        critic = np.mean(run.metrics["critic_grad_norm_layers"][lanes, -1], 0)
        x = np.arange(actor.shape[0])
        ax.bar(x - 0.2, np.maximum(actor, LOG_FLOOR), 0.4, label="actor (RMS over agents)",
               color=actor_colour(run, a))
        ax.bar(x + 0.2, np.maximum(critic, LOG_FLOOR), 0.4, label="critic", color="grey")
        for xi, value in zip(x, actor):
            if value == 0:
                ax.annotate("0", (xi - 0.2, LOG_FLOOR), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x, [f"fc{i + 1}" for i in x])
        ax.set_yscale("log")
        ax.set_ylabel("gradient L2 norm at the final episode")
        ax.set_title(f"actor LR {a:g}, critic LR {c:g} (stops at {np.median([run.stop(l) for l in lanes]):.0f})")
        ax.legend(fontsize=7)
    return save(fig, out, "fig05_layer_gradients_final")


def scatter_against_stop(run: Run, value_of_lane, ylabel: str, title: str, log: bool, out, name: str):
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for a in run.actor_lrs:
        lanes = [r["lane"] for r in run.lanes if r["actor_lr"] == a]
        values = np.array([value_of_lane(l) for l in lanes])
        ax.scatter([run.stop(l) for l in lanes], np.maximum(values, LOG_FLOOR) if log else values,
                   color=actor_colour(run, a), label=f"actor LR {a:g}", edgecolor="black", lw=0.4)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(f"all-actors stopping episode ({run.episodes} = never)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return save(fig, out, name)


def fig_final_asymmetry_vs_stopping(run: Run, out):
    return scatter_against_stop(run, lambda l: run.metrics["grad_ratio"][l, -1], "final ρ (actor / critic)",
                                f"Final gradient asymmetry vs stopping (0 drawn at {LOG_FLOOR:g})", True, out,
                                "fig06_final_asymmetry_vs_stopping")


def fig_saturation_over_time(run: Run, out):
    fig, ax = plt.subplots(figsize=(9, 5))
    plot_over_time(ax, run, run.metrics["saturation"])
    ax.axhline(SATURATION_LEVEL, color="black", linestyle="--", lw=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel(f"fraction of outputs with |tanh z| > {SATURATION_LEVEL}")
    ax.set_title("Actor output saturation over training" + seeds_note(run) + "; dashed: 0.9")
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
    heatmap(ax, run, run.per_config(lambda l: run.metrics["saturation"][l, -1]), "Final output saturation",
            lambda cell: spread_text(cell, "{:.2f}"), "magma_r", 0, 1, "saturation ratio")
    return save(fig, out, "fig09_final_saturation_heatmap")


def fig_saturation_vs_stopping(run: Run, out):
    return scatter_against_stop(run, lambda l: run.metrics["saturation"][l, -1], "final saturation ratio",
                                "Final saturation vs stopping episode", False, out, "fig10_saturation_vs_stopping")


def fig_learning_curves(run: Run, out, window: int):
    fig, ax = plt.subplots(figsize=(9, 5))
    reward = smooth(run.metrics["train_reward"], window)
    plot_over_time(ax, run, reward)
    for a, c in run.configs():
        stop = np.median([run.stop(l) for l in run.lanes_of(a, c)])
        if stop < run.episodes:
            ax.axvline(stop, color=actor_colour(run, a), linestyle=":", lw=0.9)
    ax.set_ylabel(f"training episode reward ({window}-episode moving average)")
    ax.set_title("Learning curves; dotted: all-actors stopping episode" + seeds_note(run))
    legend_outside(ax)
    return save(fig, out, "fig11_learning_curves")


def fig_reward_at_stop_vs_end(run: Run, out, window: int):
    reward = smooth(run.metrics["train_reward"], window)
    configs = run.configs()
    # Lanes whose actors never all stopped have no stopping point: no bar.
    at_stop = [np.mean([reward[l, run.stop(l) - 1] if run.stop(l) < run.episodes else np.nan
                        for l in run.lanes_of(a, c)]) for a, c in configs]
    at_end = [np.mean(reward[run.lanes_of(a, c), -1]) for a, c in configs]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    x = np.arange(len(configs))
    ax.bar(x - 0.2, at_stop, 0.4, label="at the stopping episode", color=[actor_colour(run, a) for a, _ in configs])
    ax.bar(x + 0.2, at_end, 0.4, label="at the end", color="grey")
    ax.set_xticks(x, [f"{a:g}/{c:g}" for a, c in configs], rotation=60, fontsize=7)
    ax.set_xlabel("actor LR / critic LR")
    ax.set_ylabel(f"training reward ({window}-episode mean)")
    ax.set_title("Reward when the actors stop vs at the end of training" + seeds_note(run)
                 + "; no left bar: never stopped")
    ax.legend(fontsize=8)
    return save(fig, out, "fig12_reward_at_stop_vs_end")


def fig_per_agent_stopping(run: Run, out):
    configs = run.configs()
    data = []
    for a, c in configs:
        agents = [v for l in run.lanes_of(a, c) for v in run.lanes[l]["actor_first_unchanged"]]
        data.append([run.episodes if v is None else v for v in agents])
    fig, ax = plt.subplots(figsize=(10, 4.5))
    boxes = ax.boxplot(data, patch_artist=True, widths=0.6)
    for patch, (a, _) in zip(boxes["boxes"], configs):
        patch.set_facecolor(actor_colour(run, a))
    ax.set_xticks(range(1, len(configs) + 1), [f"{a:g}/{c:g}" for a, c in configs], rotation=60, fontsize=7)
    ax.set_xlabel("actor LR / critic LR")
    ax.set_ylabel(f"first unchanged episode per agent ({run.episodes} = never)")
    ax.set_title(f"Per-agent stopping episodes ({run.definition.n_agents} agents × {run.seeds} seed(s))")
    return save(fig, out, "fig13_per_agent_stopping")


def fig_stopping_spread(run: Run, out):
    stops = run.per_config(run.stop)
    fig, ax = plt.subplots(figsize=(6.5, 5))
    spread = np.nanmax(stops, -1) - np.nanmin(stops, -1)
    heatmap(ax, run, spread[..., None], f"Across-seed range of the stopping episode ({run.seeds} seeds)",
            lambda cell: f"{cell[0]:.0f}", "Blues", 0, None, "max − min (episodes)")
    return save(fig, out, "fig14_stopping_spread")


def saturation_onset(series: np.ndarray) -> float:
    above = np.flatnonzero(series > SATURATION_LEVEL)
    return float(above[0] + 1) if above.size else np.nan


def fig_onset_vs_effective_lr(run: Run, out):
    """Saturation onset (first episode with saturation > 0.9) vs η_actor·|R|, R the mean
    per-step reward over the first 10 episodes (the scale the critic's Q and hence the
    actors' gradients inherit)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    steps = run.definition.steps_per_episode
    for lane, row in enumerate(run.lanes):
        reward_scale = abs(np.mean(run.metrics["train_reward"][lane, :10])) / steps
        onset = saturation_onset(run.metrics["saturation"][lane])
        if np.isfinite(onset):
            ax.scatter(row["actor_lr"] * reward_scale, onset, color=actor_colour(run, row["actor_lr"]),
                       marker="o", edgecolor="black", lw=0.4)
    for a in run.actor_lrs:
        ax.scatter([], [], color=actor_colour(run, a), label=f"actor LR {a:g}")
    ax.set_xscale("log")
    ax.set_xlabel("effective actor step η·|R| (R: mean reward per step, first 10 episodes)")
    ax.set_ylabel(f"saturation onset episode (> {SATURATION_LEVEL})")
    ax.set_title("Saturation onset vs effective learning rate (never-saturating lanes omitted)")
    ax.legend(fontsize=7)
    return save(fig, out, "fig15_saturation_onset_vs_effective_lr")


def fig_reference_vs_ours(run: Run, out):
    reference = np.array([[[REFERENCE_STOPPING.get((a, c), np.nan)] for c in run.critic_lrs] for a in run.actor_lrs])
    ours = run.per_config(run.stop)
    top = max(2000, run.episodes)  # one colour scale for both panels
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    heatmap(axes[0], run, reference, "Reference (PyTorch, paper Table 3, 2000 episodes)", spread_text,
            "RdYlGn", 0, top, "episode")
    heatmap(axes[1], run, ours, f"This reproduction ({run.seeds} seed(s), {run.episodes} episodes)", spread_text,
            "RdYlGn", 0, top, "episode")
    return save(fig, out, "fig16_reference_vs_ours")


def _verdict(holds: bool, partly: bool = False) -> str:
    return "confirmed" if holds else ("partly" if partly else "not confirmed")


def check_claims(run: Run) -> str:
    """The paper's claims (SPEC §6), each with a verdict and the numbers of this run, as
    Markdown. Stopping episodes are per lane; ranges are over lanes (seeds included)."""
    E = run.episodes
    rows = run.lanes
    stop = {r["lane"]: run.stop(r["lane"]) for r in rows}
    lines = [provenance.describe(run.environment), "",
             f"Claims checked on {len(rows)} lanes ({run.seeds} seed(s)), {E} episodes; "
             f"stopping episode {E} = never stopped.", ""]

    high = [r["lane"] for r in rows if r["actor_lr"] >= 0.01]
    if high:
        stops = [stop[l] for l in high]
        within = sum(160 <= s <= 300 for s in stops)
        lines.append(f"1. Actor LR ≥ 0.01 → every actor stops within ~160–300 episodes: "
                     f"**{_verdict(within == len(stops), within > 0)}** — {within}/{len(stops)} lanes in [160, 300]; "
                     f"stopping episodes {min(stops)}–{max(stops)} (median {np.median(stops):.0f}).")
    low = [r["lane"] for r in rows if r["actor_lr"] <= 0.001 and r["critic_lr"] <= 0.01]
    if low:
        never = sum(stop[l] == E for l in low)
        stopped = sorted(stop[l] for l in low if stop[l] < E)
        lines.append(f"2. Actor LR ≤ 0.001 with critic LR ≤ 0.01 → actors keep updating to the end: "
                     f"**{_verdict(never == len(low), never > 0)}** — {never}/{len(low)} lanes never had all "
                     f"actors stop" + (f"; the others stopped at {stopped}." if stopped else "."))
    low_critic_high = [r["lane"] for r in rows if r["actor_lr"] <= 0.001 and r["critic_lr"] >= 0.1]
    if low_critic_high:
        induced = sum(stop[l] < E for l in low_critic_high)
        lines.append(f"3. Critic LR 0.1 can induce stopping (at actor LR ≤ 0.001): **{_verdict(induced > 0)}** — "
                     f"{induced}/{len(low_critic_high)} such lanes stopped "
                     f"({sorted(stop[l] for l in low_critic_high)}).")
    critic_stopped = [r["lane"] for r in rows if r["critic_first_unchanged"] is not None]
    lines.append(f"4. The critic never stops: **{_verdict(not critic_stopped)}** — critic weights unchanged in some "
                 f"episode in {len(critic_stopped)}/{len(rows)} lanes.")
    trained = run.metrics["trained"].astype(bool)
    ratio = run.metrics["grad_ratio"][trained]
    positive = ratio[np.isfinite(ratio) & (ratio > 0)]
    if positive.size:
        inside = np.mean((positive >= 1e-8) & (positive <= 1e-4))
        below_top = np.mean(positive <= 1e-4)
        lines.append(f"5. Actor/critic gradient-norm ratio 1e-8…1e-4: "
                     f"**{_verdict(inside > 0.9, inside > 0.5 or below_top > 0.99)}** — "
                     f"{100 * inside:.1f}% of non-zero per-episode ratios inside, {100 * below_top:.1f}% ≤ 1e-4; "
                     f"1st–99th percentile "
                     f"{np.percentile(positive, 1):.1e}…{np.percentile(positive, 99):.1e}; ratio exactly 0 in "
                     f"{100 * np.mean(ratio == 0):.1f}% of trained episodes (saturated actors).")
    final_saturation = np.array([run.metrics["saturation"][r["lane"], -1] for r in rows])
    stops = np.array([stop[r["lane"]] for r in rows], float)
    if np.std(final_saturation) > 0 and np.std(stops) > 0:
        r_value = np.corrcoef(final_saturation, stops)[0, 1]
        lines.append(f"6. Final saturation correlates with the stopping episode (|r| > 0.9): "
                     f"**{_verdict(abs(r_value) > 0.9, abs(r_value) > 0.5)}** — Pearson r = {r_value:.3f} "
                     f"over {len(rows)} lanes (negative: more saturation, earlier stop).")
    else:
        lines.append(f"6. Final saturation correlates with the stopping episode: **not testable** here — final "
                     f"saturation {np.unique(final_saturation).round(3).tolist()} and stopping episodes "
                     f"{np.unique(stops).astype(int).tolist()} do not both vary.")
    if high:
        spread = np.maximum(np.abs(run.metrics["preact_max"][high, -1]), np.abs(run.metrics["preact_min"][high, -1]))
        lines.append(f"7. High actor LR drives output pre-activations far outside [−2, 2]: "
                     f"**{_verdict(bool(np.all(spread > 2)))}** — final max |z| at actor LR ≥ 0.01: "
                     f"{spread.min():.3g}…{spread.max():.3g}.")
    return "\n".join(lines) + "\n"


def final_eval_reward(run: Run, lane: int, evaluations: int = 10) -> float:
    """Mean greedy-evaluation reward over the last ``evaluations`` evaluations of a lane."""
    rewards = run.metrics["eval_reward"][lane]
    return float(np.mean(rewards[np.isfinite(rewards)][-evaluations:]))


def final_output_saturation(run: Run, lane: int, episodes: int = 10) -> float:
    """Saturation of the output activation in use, mean over the last ``episodes`` episodes."""
    return float(np.mean(run.metrics["output_saturation"][lane, -episodes:]))


def fig_variants(run: Run, out):
    """One column per variant: stopping episode, final evaluation reward, final saturation."""
    parts = [run.only_variant(v) for v in run.variants]
    rewards = np.array([final_eval_reward(p, r["lane"]) for p in parts for r in p.lanes])
    rows = [("all-actors stopping episode", lambda p, l: p.stop(l), spread_text, "RdYlGn", 0, run.episodes),
            ("evaluation reward, last 10", lambda p, l: final_eval_reward(p, l),
             lambda cell: spread_text(cell / 1e3, "{:.1f}k"), "viridis", rewards.min(), rewards.max()),
            ("output saturation, last 10 episodes", lambda p, l: final_output_saturation(p, l),
             lambda cell: spread_text(cell, "{:.2f}"), "magma_r", 0, 1)]
    fig, axes = plt.subplots(len(rows), len(parts), figsize=(2.9 * len(parts) + 1.5, 2.9 * len(rows)),
                             squeeze=False, layout="constrained")
    for i, (label, value, fmt, cmap, vmin, vmax) in enumerate(rows):
        for j, part in enumerate(parts):
            ax = axes[i, j]
            image = heatmap(ax, part, part.per_config(lambda l: value(part, l)), part.variants[0] if i == 0 else "",
                            fmt, cmap, vmin, vmax, colorbar_label=None)
            if i < len(rows) - 1:
                ax.set_xlabel("")
            if j > 0:
                ax.set_ylabel("")
        fig.colorbar(image, ax=axes[i].tolist(), label=label, shrink=0.9)
    fig.suptitle(f"Variants side by side: {run.seeds} seed(s), {run.episodes} episodes\n"
                 f"(stopping {run.episodes} = never; cells: median [range over seeds])")
    return save(fig, out, "fig17_variants", dpi=120)


def setting_text(name: str, value) -> str:
    return f"{name}={ACTIVATION_NAMES[int(value)] if name == 'output_activation' else format(value, 'g')}"


def compare_variants(run: Run) -> str:
    """Per variant, as Markdown: how many configurations keep their actors learning (never
    all stopped), overall and at actor LR ≥ 0.01; the median stopping episode of those that
    stop; the evaluation reward (last 10 evaluations) and final output saturation."""
    E = run.episodes
    lines = [provenance.describe(run.environment), "",
             f"Variants compared on the same seeds ({run.seeds} seed(s)), {E} episodes, "
             f"{len(run.configs())} LR configurations each. \"learning\" = the actors never all stopped.", "",
             "| variant | settings | lanes learning | lanes learning, actor LR ≥ 0.01 | median stop of the rest | "
             "eval reward, median [min–max] | output saturation, median |", "|---|---|---|---|---|---|---|"]
    for variant in run.variants:
        part = run.only_variant(variant)
        lanes = [r["lane"] for r in part.lanes]
        high = [r["lane"] for r in part.lanes if r["actor_lr"] >= 0.01]
        stops = [part.stop(l) for l in lanes if part.stop(l) < E]
        rewards = [final_eval_reward(part, l) for l in lanes]
        settings = ", ".join(setting_text(k, v) for k, v in run.definition.variants[variant].items()) or "–"
        learning = sum(part.stop(l) == E for l in lanes)
        learning_high = sum(part.stop(l) == E for l in high)
        median_stop = f"{np.median(stops):.0f}" if stops else "–"
        saturation = np.median([final_output_saturation(part, l) for l in lanes])
        lines.append(f"| {variant} | {settings} | {learning}/{len(lanes)} | {learning_high}/{len(high)} | "
                     f"{median_stop} | {np.median(rewards) / 1e3:.1f}k [{min(rewards) / 1e3:.1f}k–"
                     f"{max(rewards) / 1e3:.1f}k] | {saturation:.2f} |")
    return "\n".join(lines) + "\n"


def write_run(run: Run, out: pathlib.Path, window: int) -> list[pathlib.Path]:
    """The 16 figures and claims.md of a run with one variant."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for make in (fig_stopping_heatmap, fig_stopping_bubbles, fig_asymmetry_over_time,
                 fig_gradient_norms_over_time, fig_layer_gradients_final, fig_final_asymmetry_vs_stopping,
                 fig_saturation_over_time, fig_preactivations_over_time, fig_final_saturation_heatmap,
                 fig_saturation_vs_stopping, fig_per_agent_stopping, fig_stopping_spread,
                 fig_onset_vs_effective_lr, fig_reference_vs_ours):
        paths += make(run, out)
    paths += fig_learning_curves(run, out, window)
    paths += fig_reward_at_stop_vs_end(run, out, window)
    write_text(out / "claims.md", check_claims(run))
    return paths + [out / "claims.md"]


def write_all(run: Run, out: pathlib.Path, window: int) -> list[pathlib.Path]:
    """``write_run`` for a one-variant run; otherwise per variant in ``out/<variant>/``, plus
    the side-by-side figure and ``variants.md`` in ``out``."""
    if len(run.variants) == 1:
        return write_run(run, out, window)
    out.mkdir(parents=True, exist_ok=True)
    paths = [p for variant in run.variants for p in write_run(run.only_variant(variant), out / variant, window)]
    paths += fig_variants(run, out)
    write_text(out / "variants.md", compare_variants(run))
    return paths + [out / "variants.md"]


def network_parameters(hidden: tuple[int, ...], n_in: int, n_out: int) -> int:
    """Weights and biases of a fully connected network n_in → hidden… → n_out."""
    widths = (n_in, *hidden, n_out)
    return sum((w_in + 1) * w_out for w_in, w_out in zip(widths[:-1], widths[1:]))


def check_size_runs(runs: list[Run]) -> list[Run]:
    """The runs sorted by actor then critic size; RunError unless they share everything
    but the network sizes."""
    def setting(run):
        ignored = ("name", "actor_hidden", "critic_hidden", "chunk")
        return {k: v for k, v in dataclasses.asdict(run.definition).items() if k not in ignored}
    if len(runs) < 2 or any(setting(r) != setting(runs[0]) for r in runs[1:]):
        raise RunError("--compare_sizes needs at least two finished runs whose definitions differ only in "
                       "actor_hidden / critic_hidden")
    def size_key(run):
        return (network_parameters(run.definition.actor_hidden, 7, 3), run.definition.critic_hidden)
    return sorted(runs, key=size_key)


def size_label(run: Run) -> str:
    d = run.definition
    return f"actor {','.join(map(str, d.actor_hidden))} / critic {','.join(map(str, d.critic_hidden))}"


def fig_network_sizes(runs: list[Run], out):
    """Evaluation reward (last 10 evaluations) and stopping episode against the size of the
    networks, one line per LR configuration (median over seeds, band = range)."""
    reference = runs[0]
    x = np.arange(len(runs))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    for a, c in reference.configs():
        style = config_style(reference, a, c)
        for ax, value in ((axes[0], final_eval_reward), (axes[1], lambda run, lane: run.stop(lane))):
            cells = np.array([[value(run, lane) for lane in run.lanes_of(a, c)] for run in runs])
            ax.plot(x, np.median(cells, 1), marker="o", **style)
            if cells.shape[1] > 1:
                ax.fill_between(x, cells.min(1), cells.max(1), color=style["color"], alpha=0.12, lw=0)
    labels = [f"{size_label(run)}\n({network_parameters(run.definition.actor_hidden, 7, 3)} params/actor)"
              for run in runs]
    for ax, ylabel in ((axes[0], "evaluation reward, last 10 evaluations"),
                       (axes[1], f"all-actors stopping episode ({reference.episodes} = never)")):
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Network sizes compared ({reference.seeds} seed(s), {reference.episodes} episodes; "
                 "median over seeds, band = range)")
    return save(fig, out, "fig18_network_sizes")


def compare_sizes(runs: list[Run]) -> str:
    """Per network size and LR configuration, as Markdown: the evaluation reward (last 10
    evaluations) and the all-actors stopping episode, median [range] over seeds."""
    reference = runs[0]
    configs = reference.configs()
    lines = [*(f"{size_label(run)}: {provenance.describe(run.environment)}" for run in runs), "",
             f"Network sizes compared on the same seeds ({reference.seeds} seed(s)), {reference.episodes} "
             f"episodes. Cells: evaluation reward of the last 10 evaluations, median [min–max] over seeds; "
             f"then the all-actors stopping episode ({reference.episodes} = never).", "",
             "| networks | params per actor | " + " | ".join(f"actor {a:g} / critic {c:g}" for a, c in configs) + " |",
             "|---|---|" + "---|" * len(configs)]
    for run in runs:
        cells = []
        for a, c in configs:
            lanes = run.lanes_of(a, c)
            rewards = [final_eval_reward(run, lane) for lane in lanes]
            stops = [run.stop(lane) for lane in lanes]
            cells.append(f"{np.median(rewards) / 1e3:.1f}k [{min(rewards) / 1e3:.1f}k–{max(rewards) / 1e3:.1f}k]; "
                         f"stop {np.median(stops):.0f}")
        lines.append(f"| {size_label(run)} | {network_parameters(run.definition.actor_hidden, 7, 3)} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv):
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.smooth < 1:
        cli.fail(f"--smooth must be >= 1, got {FLAGS.smooth}")
    try:
        if FLAGS.run and FLAGS.compare_sizes:
            raise RunError("give either --run or --compare_sizes, not both")
        if FLAGS.compare_sizes:
            runs = check_size_runs([load_run(path) for path in FLAGS.compare_sizes])
        else:
            run = load_run(FLAGS.run)
        if pathlib.Path(FLAGS.out).exists() and not pathlib.Path(FLAGS.out).is_dir():
            raise RunError(f"--out {FLAGS.out} exists and is not a directory")
    except RunError as error:
        cli.fail(str(error))
    out = pathlib.Path(FLAGS.out)
    for shown in (runs if FLAGS.compare_sizes else [run]):
        print(provenance.describe(shown.environment))
    try:
        if FLAGS.compare_sizes:
            out.mkdir(parents=True, exist_ok=True)
            write_text(out / "sizes.md", compare_sizes(runs))
            paths = fig_network_sizes(runs, out) + [out / "sizes.md"]
        else:
            paths = write_all(run, out, FLAGS.smooth)
    except OSError as error:  # every file is written whole or not at all
        cli.fail(f"cannot write the figures: {files.io_error_text(error)}", cli.IO_EXIT_CODE)
    print(f"wrote {len(paths)} files to {FLAGS.out}")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
