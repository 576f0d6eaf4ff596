"""Host-side summaries of finished runs: one record per configuration, and the stopping
table in the layout of the paper (rows actor LR, columns critic LR), one per variant."""

from __future__ import annotations

import csv
import io

import numpy as np

from jaxmadrl.agents import diagnostics


def _episode_or_none(value) -> int | None:
    return None if int(value) == diagnostics.NEVER else int(value)


# A non-finite parameter makes its change non-finite from then on.
DIVERGENCE_METRICS = ("critic_loss", "actor_max_delta", "critic_max_delta")


def lane_summary(tracker, metrics: dict[str, np.ndarray], episodes: int) -> dict:
    """One configuration's outcome from its final stop tracker and per-episode metrics
    (numpy, leading axis = episode). Stopping episodes are None where they never happened;
    "final_saturation" is the saturation of the output activation in use; "diverged" is
    True if a parameter (seen through its change) or the critic loss became non-finite."""
    stops = {k: np.asarray(v) for k, v in diagnostics.stopping_summary(tracker, episodes).items()}
    evaluated = np.flatnonzero(np.isfinite(metrics["eval_reward"]))
    trained = np.asarray(metrics["trained"], bool)
    return {
        "all_actors_stopped": _episode_or_none(stops["all_actors_stopped"]),
        "actor_first_unchanged": [_episode_or_none(v) for v in stops["actor_first_unchanged"]],
        "actor_never_again": [_episode_or_none(v) for v in stops["actor_never_again"]],
        "critic_first_unchanged": _episode_or_none(stops["critic_first_unchanged"]),
        "critic_never_again": _episode_or_none(stops["critic_never_again"]),
        "final_saturation": float(metrics["saturation"][-1]),
        "final_grad_ratio": float(metrics["grad_ratio"][-1]),
        "final_train_reward": float(metrics["train_reward"][-1]),
        "last_eval_reward": float(metrics["eval_reward"][evaluated[-1]]) if evaluated.size else None,
        "diverged": not all(np.all(np.isfinite(metrics[k][trained])) for k in DIVERGENCE_METRICS),
    }


CSV_COLUMNS = (
    "seed",
    "variant",
    "actor_lr",
    "critic_lr",
    "all_actors_stopped",
    "critic_stopped",
    "final_saturation",
    "final_grad_ratio",
    "final_train_reward",
    "last_eval_reward",
    "diverged",
    "actor_first_unchanged",
    "actor_never_again",
)


def summaries_csv(rows: list[dict]) -> str:
    """One CSV row per configuration; per-agent episode lists as space-separated values
    ("-" where the agent never stopped); empty cells where a value does not exist."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values = {**row, "critic_stopped": row["critic_first_unchanged"] is not None}
        writer.writerow(
            [
                ""
                if values[c] is None
                else " ".join("-" if v is None else str(v) for v in values[c])
                if isinstance(values[c], list)
                else values[c]
                for c in CSV_COLUMNS
            ]
        )
    return out.getvalue()


def stopping_table(rows: list[dict], episodes: int) -> str:
    """All-actors stopping episode per (actor LR, critic LR): the paper's Table 3 layout,
    ``episodes`` where the actors never all stopped; with several seeds, the median and
    the range across seeds. Diverged configurations are marked with '!'."""
    actor_lrs = sorted({r["actor_lr"] for r in rows})
    critic_lrs = sorted({r["critic_lr"] for r in rows})
    table = []
    for a in actor_lrs:
        cells = []
        for c in critic_lrs:
            cell_rows = [r for r in rows if r["actor_lr"] == a and r["critic_lr"] == c]
            stops = [episodes if r["all_actors_stopped"] is None else r["all_actors_stopped"] for r in cell_rows]
            mark = "!" if any(r["diverged"] for r in cell_rows) else ""
            if not stops:
                cells.append("-")
            elif len(stops) == 1:
                cells.append(f"{stops[0]}{mark}")
            else:
                cells.append(f"{np.median(stops):g} [{min(stops)}-{max(stops)}]{mark}")
        table.append(cells)
    width = 2 + max([len(cell) for cells in table for cell in cells] + [len(f"{c:g}") for c in critic_lrs])
    lines = ["actor LR \\ critic LR".ljust(22) + "".join(f"{c:g}".rjust(width) for c in critic_lrs)]
    lines += [f"{a:g}".ljust(22) + "".join(cell.rjust(width) for cell in cells) for a, cells in zip(actor_lrs, table)]
    return "\n".join(lines)


def variant_names(rows: list[dict]) -> list[str]:
    """The variants of ``rows`` in order of first appearance."""
    return list(dict.fromkeys(r["variant"] for r in rows))


def stopping_tables(rows: list[dict], episodes: int) -> str:
    """``stopping_table`` of each variant under a "variant NAME:" heading (just the table
    when there is one variant)."""
    names = variant_names(rows)
    if len(names) == 1:
        return stopping_table(rows, episodes)
    return "\n\n".join(
        f"variant {name}:\n" + stopping_table([r for r in rows if r["variant"] == name], episodes) for name in names
    )
