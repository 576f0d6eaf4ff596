"""Runs of the same grid that differ only in network sizes: their check, their grouping by
the network that varies, and their comparison (``python -m jaxmadrl.figures --compare_sizes``)."""

from __future__ import annotations

import numpy as np

from jaxmadrl.agents import networks
from jaxmadrl.report import analysis
from jaxmadrl.store import loading, provenance


def check_size_runs(runs: list[loading.Run]) -> list[loading.Run]:
    """The runs sorted by actor then critic size; RunError unless they share everything
    but the network sizes."""

    def setting(run):
        ignored = ("name", "actor_hidden", "critic_hidden", "chunk")
        return {k: v for k, v in run.definition.to_dict().items() if k not in ignored}

    if len(runs) < 2 or any(setting(r) != setting(runs[0]) for r in runs[1:]):
        raise loading.RunError(
            "comparing sizes needs at least two finished runs whose definitions differ only in "
            "actor_hidden / critic_hidden"
        )

    sizes = [hidden_widths(r) for r in runs]
    if len(set(sizes)) < len(sizes):
        raise loading.RunError("comparing sizes needs runs of different sizes: two runs have the same actor and critic")
    return sorted(runs, key=parameter_counts)


def size_sides(runs: list[loading.Run]) -> dict[str, list[loading.Run]]:
    """The runs that vary one network while the other has its most common size, by side
    ("actor", "critic"), each sorted by size; a side only where it takes ≥ 2 sizes."""

    def most_common(values):
        return max(values, key=values.count)

    actors, critics = zip(*map(hidden_widths, runs))
    fixed_actor, fixed_critic = most_common(actors), most_common(critics)
    sides = {
        "actor": [r for r, critic in zip(runs, critics) if critic == fixed_critic],
        "critic": [r for r, actor in zip(runs, actors) if actor == fixed_actor],
    }
    return {side: sorted(group, key=parameter_counts) for side, group in sides.items() if len(group) > 1}


def parameter_counts(run: loading.Run) -> tuple[int, int]:
    """(dense parameters of one actor, of the critic) of a run's networks."""
    return networks.parameter_counts(run.definition.train)


def hidden_widths(run: loading.Run) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(actor hidden widths, critic hidden widths) of a run."""
    return run.definition.train.actor_hidden, run.definition.train.critic_hidden


def size_label(run: loading.Run) -> str:
    actor, critic = (",".join(map(str, widths)) for widths in hidden_widths(run))
    return f"actor {actor} / critic {critic}"


def compare_sizes(runs: list[loading.Run]) -> str:
    """Per network size and LR configuration, as Markdown: the evaluation reward (last 10
    evaluations) and the all-actors stopping episode, median [range] over seeds."""
    reference = runs[0]
    configs = reference.configs()
    lines = [
        *(f"{size_label(run)}: {provenance.describe(run.environment)}" for run in runs),
        "",
        f"Network sizes compared on the same seeds ({reference.seeds} seed(s)), {reference.episodes} "
        f"episodes. Cells: evaluation reward of the last {analysis.LAST} evaluations, median [min–max] over seeds; "
        f"then the all-actors stopping episode ({reference.episodes} = never).",
        "",
        "| networks | params per actor | params of the critic | "
        + " | ".join(f"actor {a:g} / critic {c:g}" for a, c in configs)
        + " |",
        "|---|---|---|" + "---|" * len(configs),
    ]
    for run in runs:
        cells = []
        for a, c in configs:
            lanes = run.select(actor_lr=a, critic_lr=c)
            rewards = [analysis.mean_last_evaluations(run, lane) for lane in lanes]
            stops = [run.stop(lane) for lane in lanes]
            cells.append(f"{analysis.reward_spread_text(rewards)}; stop {np.median(stops):.0f}")
        lines.append(
            f"| {size_label(run)} | {' | '.join(map(str, parameter_counts(run)))} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"
