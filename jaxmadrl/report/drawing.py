"""Drawing helpers the figures share: colours and line styles per configuration, curves
over episodes with a band across seeds, heatmaps over the LR grid, and whole-or-nothing
PNG and PDF files.

Colour encodes the actor learning rate everywhere; line style the critic learning rate.
With several seeds, curves show the mean across seeds with a min–max band, and heatmaps
the median with the range.
"""

from __future__ import annotations

import pathlib
import warnings

import matplotlib.pyplot as plt  # the backend is the caller's (a notebook's); the figures command uses Agg
import numpy as np

from jaxmadrl.core import files
from jaxmadrl.store.loading import Run

LOG_FLOOR = 1e-12  # where an exactly-zero value is drawn on a log axis


LINESTYLES = ["-", "--", "-.", ":"]


def actor_colour(run: Run, actor_lr: float):
    cmap = plt.get_cmap("plasma")
    return cmap(0.1 + 0.75 * run.actor_lrs.index(actor_lr) / max(1, len(run.actor_lrs) - 1))


def config_style(run: Run, actor_lr: float, critic_lr: float) -> dict:
    return {
        "color": actor_colour(run, actor_lr),
        "linestyle": LINESTYLES[run.critic_lrs.index(critic_lr) % len(LINESTYLES)],
        "label": f"actor {actor_lr:g}, critic {critic_lr:g}",
    }


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
    rows = series[run.select(actor_lr=actor_lr, critic_lr=critic_lr)]
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


def heatmap(
    ax, run: Run, values: np.ndarray, title: str, fmt, cmap: str, vmin=None, vmax=None, colorbar_label: str | None = ""
):
    """values (actor LRs, critic LRs, seeds): colour = median, text = fmt(cell values)."""
    median = np.nanmedian(values, axis=-1)
    image = ax.imshow(median, cmap=cmap, vmin=vmin, vmax=vmax, origin="lower", aspect="auto")
    for i in range(median.shape[0]):
        for j in range(median.shape[1]):
            red, green, blue, _ = image.cmap(image.norm(median[i, j]))
            dark = np.isfinite(median[i, j]) and 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
            ax.text(j, i, fmt(values[i, j]), ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(len(run.critic_lrs)), [f"{c:g}" for c in run.critic_lrs])
    ax.set_yticks(range(len(run.actor_lrs)), [f"{a:g}" for a in run.actor_lrs])
    ax.set_xlabel("critic learning rate")
    ax.set_ylabel("actor learning rate")
    ax.set_title(title)
    if colorbar_label is not None:
        ax.figure.colorbar(image, ax=ax, label=colorbar_label)
    return image


def cell_spread_text(cell: np.ndarray, fmt: str = "{:.0f}") -> str:
    """A heatmap cell's values over seeds: the median and, below it, [min–max]."""
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
