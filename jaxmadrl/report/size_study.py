"""Seed 004's size study on runs of network sizes — a run whose variants are sizes
(``actor_hidden`` / ``critic_hidden``, one masked program), or a run per size
(``tools/size_ladder.py``), or both: every size's final evaluation return over seeds, which sizes solve the
task, the smallest symmetric network and the smallest actor with its critic, next to seed
004's Table 1 (``data/seed004_table1.json``), and what the lanes' instruments say of small
and large actors.

"Solves", as seed 004 defines it: the mean over seeds of the final evaluation return reaches
the algorithm's threshold for the environment with a 10 % tolerance (threshold − 0.1·|threshold|).
The whole ladder is evaluated, so the smallest solving size is read off it rather than
searched for.
"""

from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np

from jaxmadrl.agents.networks import parameter_count
from jaxmadrl.core import paths
from jaxmadrl.report.drawing import new_axes
from jaxmadrl.store.loading import Run

TOLERANCE = 0.1  # of |threshold|, as seed 004 applies its thresholds
ENVIRONMENTS = {"Pendulum-v1": "Pendulum-v0", "Acrobot-v1": "Acrobot-v1", "reacher": "Reacher-v2"}
ENVIRONMENTS.update({"halfcheetah": "HalfCheetah-v2", "ant": "Ant-v2"})  # our environment → seed 004's


@functools.cache
def seed_004() -> dict[tuple[str, str], dict]:
    """(seed 004's environment, algorithm) → its Table 1 row."""
    rows = json.loads((paths.DATA_DIR / "seed004_table1.json").read_text())["rows"]
    return {(row["environment"], row["algorithm"]): row for row in rows}


@dataclasses.dataclass(frozen=True)
class SizeResult:
    """One variant (size pair) of a run: its widths, actor and critic parameters, each seed's
    final evaluation return, and its lanes' instruments at the end (means over seeds)."""

    variant: str
    actor: tuple[int, ...]
    critic: tuple[int, ...]
    actor_params: int
    critic_params: int
    returns: np.ndarray  # (seeds,)
    saturation: float
    actors_stopped: int  # lanes whose actors all stopped
    critics_stopped: int  # lanes whose critic had an unchanged episode
    lanes: int

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        return float(np.std(self.returns))


def seed_004_row(run: Run) -> dict | None:
    """Seed 004's row for the run's environment and learner, if it has one."""
    environment = ENVIRONMENTS.get(run.definition.train.domain.partition(":")[2] or run.definition.train.domain)
    return seed_004().get((environment, run.definition.train.learner_name))


def solving_level(threshold: float) -> float:
    return threshold - TOLERANCE * abs(threshold)


def size_results(runs: list[Run]) -> list[SizeResult]:
    """A ``SizeResult`` per size pair of the runs (one learner in one environment: the
    symmetric pass and the asymmetric one), in the order of actor then critic parameters;
    a size pair two runs share is taken from the first."""
    results = {}
    for run in runs:
        for result in _results_of(run):
            results.setdefault((result.actor, result.critic), result)
    return sorted(results.values(), key=lambda result: (result.actor_params, result.critic_params))


def _results_of(run: Run) -> list[SizeResult]:
    spec, learner = run.definition.train.spec, run.definition.train.learner_name
    actor_outputs = 2 * spec.action_dim if learner == "sac" else spec.action_dim
    critic_inputs = spec.n_agents * (spec.obs_dim + (0 if learner == "ppo" else spec.action_dim))
    results = []
    for variant in run.variants:
        sizes, lanes = run.definition.sizes(variant), run.select(variant=variant)
        last = [_last_finite(run.metrics["eval_reward"][lane]) for lane in lanes]
        rows = [run.lanes[lane] for lane in lanes]
        results.append(
            SizeResult(
                variant,
                sizes["actor_hidden"],
                sizes["critic_hidden"],
                parameter_count((spec.obs_dim, *sizes["actor_hidden"], actor_outputs)),
                parameter_count((critic_inputs, *sizes["critic_hidden"], 1)),
                np.asarray(last, float),
                float(np.nanmean([row["final_saturation"] for row in rows])),
                sum(row["all_actors_stopped"] is not None for row in rows),
                sum(row["critic_first_unchanged"] is not None for row in rows),
                len(lanes),
            )
        )
    return results


def _last_finite(evaluations: np.ndarray) -> float:
    """The last finite evaluation return of a lane (NaN if it has none: a lane that diverged)."""
    finite = evaluations[np.isfinite(evaluations)]
    return float(finite[-1]) if finite.size else np.nan


def smallest_solving(candidates: list[SizeResult], threshold: float) -> SizeResult | None:
    """Of ``candidates``, the solving one with the fewest actor parameters (None if none solves)."""
    solving = [r for r in candidates if r.mean >= solving_level(threshold)]
    return min(solving, key=lambda r: r.actor_params) if solving else None


def study_answer(results: list[SizeResult], threshold: float) -> tuple[SizeResult | None, SizeResult | None]:
    """(the smallest solving symmetric network, the smallest solving actor with that network's
    critic — None where no size solves, or the runs hold no other actor with that critic)."""
    symmetric = smallest_solving([r for r in results if r.actor == r.critic], threshold)
    if symmetric is None:
        return None, None
    with_its_critic = [r for r in results if r.critic == symmetric.critic]
    if symmetric.actor_params == min(r.actor_params for r in results):
        return symmetric, symmetric  # no smaller actor in the ladder: the symmetric network is the answer
    if len(with_its_critic) < 2:
        return symmetric, None
    return symmetric, smallest_solving(with_its_critic, threshold)


def environment_steps(run: Run) -> int:
    """Environment steps of each lane's training (PPO's episode steps its rollout's environments)."""
    config = run.definition.train
    return run.episodes * config.spec.steps_per_episode * (config.rollout_envs if config.learner_name == "ppo" else 1)


def _widths(widths) -> str:
    return "[" + ", ".join(map(str, widths)) + "]" if widths else "–"


def _reward(pair) -> str:
    return f"{pair[0]:.2f} ± {pair[1]:.2f}" if pair else "–"


def describe_size_study(runs: list[Run]) -> str:
    """Markdown for the runs of one learner in one environment: every size's return and
    instruments, the smallest solving symmetric network and actor, and seed 004's row beside
    ours."""
    run = runs[0]
    results, row = size_results(runs), seed_004_row(run)
    config = run.definition.train
    threshold = row["threshold"] if row and row["threshold"] is not None else None
    lines = [
        f"{config.learner_name} on {config.domain}: {run.seeds} seed(s), {run.episodes} episodes of "
        f"{config.spec.steps_per_episode} steps ({environment_steps(run):,} environment steps); return = the last "
        f"evaluation ({config.eval_episodes} greedy episodes), mean ± std over seeds.",
    ]
    if threshold is not None:
        lines.append(
            f"Solves: mean return ≥ {solving_level(threshold):g} (seed 004's threshold {threshold:g} with its 10 % "
            "tolerance)."
        )
    lines += [
        "",
        "| actor | critic | actor params | critic params | return | solves | final saturation | actors stopped | "
        "critic unchanged |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        solves = "–" if threshold is None else ("yes" if r.mean >= solving_level(threshold) else "no")
        lines.append(
            f"| {_widths(r.actor)} | {_widths(r.critic)} | {r.actor_params} | {r.critic_params} | "
            f"{r.mean:.2f} ± {r.std:.2f} | {solves} | {r.saturation:.2f} | {r.actors_stopped}/{r.lanes} | "
            f"{r.critics_stopped}/{r.lanes} |"
        )
    if threshold is not None:
        lines += ["", *_answer_rows(results, row, threshold)]
    return "\n".join(lines) + "\n"


def _answer_cells(results: list[SizeResult], row: dict, threshold: float) -> tuple[list[str], list[str]]:
    """Seed 004's cells and ours: the symmetric network and its return, the asymmetric actor,
    its reduction of actor weights, its critic and its return."""
    symmetric, asymmetric = study_answer(results, threshold)
    reduction = lambda small, large: f"{100 * (1 - small.actor_params / large.actor_params):.2f}%"
    ours = [
        _widths(symmetric.actor) if symmetric else "none solves",
        f"{symmetric.mean:.2f} ± {symmetric.std:.2f}" if symmetric else "–",
        _widths(asymmetric.actor) if asymmetric else "–",
        reduction(asymmetric, symmetric) if asymmetric and symmetric else "–",
        _widths(asymmetric.critic) if asymmetric else "–",
        f"{asymmetric.mean:.2f} ± {asymmetric.std:.2f}" if asymmetric else "–",
    ]
    theirs = [
        _widths(row["symmetric_size"]),
        _reward(row["symmetric_reward"]),
        _widths(row["asymmetric_actor_size"]),
        f"{row['reduction_percent']:.2f}%" if row["reduction_percent"] is not None else "–",
        _widths(row["asymmetric_critic_size"]),
        _reward(row["asymmetric_reward"]),
    ]
    return theirs, ours


ANSWER_COLUMNS = "symmetric size | its return | asymmetric actor | reduction | critic | its return |"


def _answer_rows(results: list[SizeResult], row: dict, threshold: float) -> list[str]:
    """Seed 004's row and ours: the symmetric network and the asymmetric actor found."""
    theirs, ours = _answer_cells(results, row, threshold)
    return [
        "| | " + ANSWER_COLUMNS,
        "|---|---|---|---|---|---|---|",
        "| seed 004 | " + " | ".join(theirs) + " |",
        "| ours | " + " | ".join(ours) + " |",
    ]


def summarise_size_studies(groups: dict[tuple[str, str], list[Run]]) -> str:
    """Markdown: for each (learner, domain) and its runs, seed 004's answer and ours on two
    rows, with the first run's seeds and environment steps (where seed 004 states no
    threshold, one row pointing to the learner's own section)."""
    lines = [
        "| learner | environment | seeds × steps | | " + ANSWER_COLUMNS,
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (learner, domain), runs in groups.items():
        run, row = runs[0], seed_004_row(runs[0])
        first = f"| {learner} | {domain} | {run.seeds} × {environment_steps(run):,} |"
        if row is None or row["threshold"] is None:
            lines.append(first + " ours | seed 004 states no threshold: see the section below | – | – | – | – | – |")
            continue
        theirs, ours = _answer_cells(size_results(runs), row, row["threshold"])
        lines += [first + " seed 004 | " + " | ".join(theirs) + " |", "| | | | ours | " + " | ".join(ours) + " |"]
    return "\n".join(lines) + "\n"


def plot_size_study(runs: list[Run], ax=None):
    """Seed 004's Figure 3 for the runs of one learner in one environment: the return (mean ±
    std over seeds) against the actor's parameters, the symmetric networks and the actors
    with the smallest solving symmetric network's critic as two series."""
    fig, ax = new_axes(ax, (6.5, 4.5))
    run, results = runs[0], size_results(runs)
    row = seed_004_row(run)
    threshold = row["threshold"] if row and row["threshold"] is not None else None
    symmetric = study_answer(results, threshold)[0] if threshold is not None else None
    series = [("actor = critic", [r for r in results if r.actor == r.critic], "o-")]
    if symmetric is not None:
        series.append(
            (f"critic {_widths(symmetric.critic)}", [r for r in results if r.critic == symmetric.critic], "s--")
        )
    for label, group, style in series:
        ax.errorbar(
            [r.actor_params for r in group],
            [r.mean for r in group],
            [r.std for r in group],
            fmt=style,
            capsize=3,
            label=label,
        )
    if threshold is not None:
        level = solving_level(threshold)
        ax.axhline(level, color="black", linestyle=":", lw=0.8, label=f"solves: ≥ {level:g}")
    ax.set_xscale("log")
    ax.set_xlabel("parameters per actor")
    ax.set_ylabel("final evaluation return")
    config = run.definition.train
    ax.set_title(f"{config.learner_name} on {config.domain}: return by actor size ({run.seeds} seeds)", fontsize=9)
    ax.legend(fontsize=7)
    return fig


def plot_size_grid(runs: list[Run], ax=None):
    """The return of every (actor, critic) size pair the runs hold as a heat map, actor sizes
    across, critic sizes down (each in the order of its parameters), the mean over seeds
    written in each cell (4 significant digits; "nan" where a seed's return is not finite), a
    pair no run holds left blank and a solving pair marked ✓."""
    fig, ax = new_axes(ax, (7.5, 4.5))
    run, results = runs[0], size_results(runs)
    row = seed_004_row(run)
    threshold = row["threshold"] if row and row["threshold"] is not None else None
    actors = sorted({(r.actor_params, r.actor) for r in results})
    critics = sorted({(r.critic_params, r.critic) for r in results})
    grid = np.full((len(critics), len(actors)), np.nan)
    for r in results:
        grid[critics.index((r.critic_params, r.critic)), actors.index((r.actor_params, r.actor))] = r.mean
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", aspect="auto")
    held = {(critics.index((r.critic_params, r.critic)), actors.index((r.actor_params, r.actor))) for r in results}
    for i, j in held:
        value = grid[i, j]
        mark = " ✓" if threshold is not None and value >= solving_level(threshold) else ""
        colour = "black" if np.isfinite(value) and image.norm(value) > 0.6 else "white"
        text = f"{value:.4g}{mark}" if np.isfinite(value) else "nan"
        ax.text(j, i, text, ha="center", va="center", fontsize=6, color=colour)
    ax.set_xticks(range(len(actors)), [_widths(a) for _, a in actors], rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(critics)), [_widths(c) for _, c in critics], fontsize=7)
    ax.set_xlabel("actor hidden widths")
    ax.set_ylabel("critic hidden widths")
    fig.colorbar(image, ax=ax, label="final evaluation return (mean over seeds)")
    config = run.definition.train
    solves = f"; ✓ solves (≥ {solving_level(threshold):g})" if threshold is not None else ""
    ax.set_title(f"{config.learner_name} on {config.domain}: every size pair run{solves}", fontsize=9)
    return fig
