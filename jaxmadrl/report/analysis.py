"""Reading finished runs and what they show: the lane table and metrics of a run, the check
of the paper's claims, the per-configuration table and the comparison of variants (Markdown;
network sizes are compared in ``sizes``).

    run = load_run("sweeps/runs/all16-…")
    run.metrics["grad_ratio"][run.select(actor_lr=0.1)]   # (lanes, episodes)

Each metric is defined once, in the program (``training``, ``learner``, ``diagnostics``);
the quantities derived here on the host are named for what they are: ``mean_last_evaluations``
(the mean greedy-evaluation reward of a lane's last ``LAST`` evaluations) is not the
summary's ``last_eval_reward`` (its last evaluation alone).
"""

from __future__ import annotations

import json

import numpy as np

from jaxmadrl.agents.diagnostics import SATURATION_LEVEL
from jaxmadrl.core import paths
from jaxmadrl.core.activations import ACTIVATION_NAMES
from jaxmadrl.store import provenance
from jaxmadrl.store.loading import Run

LAST = 10  # evaluations (or episodes) that "late in training" averages over


def reference_stopping() -> dict[tuple[float, float], int]:
    """The reference's all-actors stopping episode per (actor LR, critic LR) (paper
    Table 3; 2000 = never), from ``data/reference_stopping.json``."""
    rows = json.loads((paths.DATA_DIR / "reference_stopping.json").read_text())["rows"]
    return {(row["actor_lr"], row["critic_lr"]): row["all_actors_stopped"] for row in rows}


def saturation_onset(series: np.ndarray) -> float:
    above = np.flatnonzero(series > SATURATION_LEVEL)
    return float(above[0] + 1) if above.size else np.nan


def _verdict(holds: bool, partly: bool = False) -> str:
    return "confirmed" if holds else ("partly" if partly else "not confirmed")


def check_claims(run: Run) -> str:
    """The paper's claims (docs/SPEC.md §6), each with a verdict and the numbers of this run, as
    Markdown. Stopping episodes are per lane; ranges are over lanes (seeds included)."""
    stop = {r["lane"]: run.stop(r["lane"]) for r in run.lanes}
    lines = [
        provenance.describe(run.environment),
        "",
        f"Claims checked on {len(run.lanes)} lanes ({run.seeds} seed(s)), {run.episodes} episodes; "
        f"stopping episode {run.episodes} = never stopped.",
        "",
    ]
    for claim in (
        _claim_high_actor_lr_stops,
        _claim_low_lrs_keep_updating,
        _claim_high_critic_lr_induces_stopping,
        _claim_critic_never_stops,
        _claim_gradient_ratio,
        _claim_saturation_correlates,
        _claim_preactivations_leave_the_range,
    ):
        lines += claim(run, stop)
    return "\n".join(lines) + "\n"


def _high_actor_lr_lanes(run: Run) -> list[int]:
    return [r["lane"] for r in run.lanes if r["actor_lr"] >= 0.01]


def _claim_high_actor_lr_stops(run: Run, stop: dict) -> list[str]:
    high = _high_actor_lr_lanes(run)
    if not high:
        return []
    stops = [stop[lane] for lane in high]
    within = sum(160 <= s <= 300 for s in stops)
    return [
        f"1. Actor LR ≥ 0.01 → every actor stops within ~160–300 episodes: "
        f"**{_verdict(within == len(stops), within > 0)}** — {within}/{len(stops)} lanes in [160, 300]; "
        f"stopping episodes {min(stops)}–{max(stops)} (median {np.median(stops):.0f})."
    ]


def _claim_low_lrs_keep_updating(run: Run, stop: dict) -> list[str]:
    low = [r["lane"] for r in run.lanes if r["actor_lr"] <= 0.001 and r["critic_lr"] <= 0.01]
    if not low:
        return []
    never = sum(stop[lane] == run.episodes for lane in low)
    stopped = sorted(stop[lane] for lane in low if stop[lane] < run.episodes)
    return [
        f"2. Actor LR ≤ 0.001 with critic LR ≤ 0.01 → actors keep updating to the end: "
        f"**{_verdict(never == len(low), never > 0)}** — {never}/{len(low)} lanes never had all "
        f"actors stop" + (f"; the others stopped at {stopped}." if stopped else ".")
    ]


def _claim_high_critic_lr_induces_stopping(run: Run, stop: dict) -> list[str]:
    lanes = [r["lane"] for r in run.lanes if r["actor_lr"] <= 0.001 and r["critic_lr"] >= 0.1]
    if not lanes:
        return []
    induced = sum(stop[lane] < run.episodes for lane in lanes)
    trained = run.metrics["trained"][lanes].astype(bool)
    no_actor_gradient = trained & (run.metrics["actor_grad_norm"][lanes] == 0)
    dead_first_layer = trained & (run.metrics["critic_grad_norm_layers"][lanes][..., 0] == 0)
    both = int(np.sum(no_actor_gradient & dead_first_layer))
    return [
        f"3. Critic LR 0.1 can induce stopping (at actor LR ≤ 0.001): **{_verdict(induced > 0)}** — "
        f"{induced}/{len(lanes)} such lanes stopped "
        f"({sorted(stop[lane] for lane in lanes)}). In {both} of their "
        f"{int(np.sum(no_actor_gradient))} trained episodes with an actor gradient of exactly 0, the "
        f"critic's first layer (the only one the actions enter) also had a gradient of exactly 0 — no ReLU "
        f"passing gradient for the whole batch — so ∂Q/∂a = 0 whatever the actors' saturation."
    ]


def _claim_critic_never_stops(run: Run, stop: dict) -> list[str]:
    critic_stopped = [r["lane"] for r in run.lanes if r["critic_first_unchanged"] is not None]
    return [
        f"4. The critic never stops: **{_verdict(not critic_stopped)}** — critic weights unchanged in some "
        f"episode in {len(critic_stopped)}/{len(run.lanes)} lanes."
    ]


def _claim_gradient_ratio(run: Run, stop: dict) -> list[str]:
    """Claim 5 in two definitions: the gradient each update used (this project's), and the
    one the reference logs, its gradient buffers after the loop over agents
    (``learner.ActorUpdate``); and the factor between them."""
    trained = run.metrics["trained"].astype(bool)
    definitions = [("grad_ratio", "of the gradients the updates used")]
    if "accumulated_grad_ratio" in run.metrics:  # runs made before it was measured lack it
        definitions.append(("accumulated_grad_ratio", "accumulated over the actor loop, as the reference logs it"))
    lines = []
    for name, meaning in definitions:
        ratio = run.metrics[name][trained]
        positive = ratio[np.isfinite(ratio) & (ratio > 0)]
        if not positive.size:
            continue
        inside = np.mean((positive >= 1e-8) & (positive <= 1e-4))
        below_top = np.mean(positive <= 1e-4)
        lines.append(
            f"5{'b' if name.startswith('accumulated') else ''}. Actor/critic gradient-norm ratio 1e-8…1e-4 "
            f"({meaning}): **{_verdict(inside > 0.9, inside > 0.5 or below_top > 0.99)}** — "
            f"{100 * inside:.1f}% of non-zero per-episode ratios inside, {100 * below_top:.1f}% ≤ 1e-4; "
            f"1st–99th percentile "
            f"{np.percentile(positive, 1):.1e}…{np.percentile(positive, 99):.1e}; ratio exactly 0 in "
            f"{100 * np.mean(ratio == 0):.1f}% of trained episodes (saturated actors, or no gradient through the "
            "critic's first layer: claim 3)."
        )
    if len(definitions) == 2:
        per_update, accumulated = (run.metrics[name][trained] for name, _ in definitions)
        both = (per_update > 0) & (accumulated > 0) & np.isfinite(per_update) & np.isfinite(accumulated)
        if both.any():
            factor = accumulated[both] / per_update[both]
            lines.append(
                f"   The accumulated ratio is {np.median(factor):.3g}× the per-update one (median over "
                f"{both.sum()} trained episodes with both non-zero; 1st–99th percentile "
                f"{np.percentile(factor, 1):.3g}…{np.percentile(factor, 99):.3g})."
            )
    return lines


def _claim_saturation_correlates(run: Run, stop: dict) -> list[str]:
    final_saturation = np.array([run.metrics["saturation"][r["lane"], -1] for r in run.lanes])
    stops = np.array([stop[r["lane"]] for r in run.lanes], float)
    if np.std(final_saturation) > 0 and np.std(stops) > 0:
        r_value = np.corrcoef(final_saturation, stops)[0, 1]
        return [
            f"6. Final saturation correlates with the stopping episode (|r| > 0.9): "
            f"**{_verdict(abs(r_value) > 0.9, abs(r_value) > 0.5)}** — Pearson r = {r_value:.3f} "
            f"over {len(run.lanes)} lanes (negative: more saturation, earlier stop)."
        ]
    return [
        f"6. Final saturation correlates with the stopping episode: **not testable** here — final "
        f"saturation {np.unique(final_saturation).round(3).tolist()} and stopping episodes "
        f"{np.unique(stops).astype(int).tolist()} do not both vary."
    ]


def _claim_preactivations_leave_the_range(run: Run, stop: dict) -> list[str]:
    high = _high_actor_lr_lanes(run)
    if not high:
        return []
    spread = np.maximum(np.abs(run.metrics["preact_max"][high, -1]), np.abs(run.metrics["preact_min"][high, -1]))
    return [
        f"7. High actor LR drives output pre-activations far outside [−2, 2]: "
        f"**{_verdict(bool(np.all(spread > 2)))}** — final max |z| at actor LR ≥ 0.01: "
        f"{spread.min():.3g}…{spread.max():.3g}."
    ]


def mean_last_evaluations(run: Run, lane: int, evaluations: int = LAST) -> float:
    """Mean greedy-evaluation reward over the last ``evaluations`` evaluations of a lane."""
    rewards = run.metrics["eval_reward"][lane]
    return float(np.mean(rewards[np.isfinite(rewards)][-evaluations:]))


def mean_last_saturation(run: Run, lane: int, episodes: int = LAST) -> float:
    """Saturation of the output activation in use, mean over the trained episodes among the
    last ``episodes`` (NaN if none trained)."""
    values = run.metrics["saturation"][lane, -episodes:]
    trained = values[np.isfinite(values)]
    return float(np.mean(trained)) if trained.size else float("nan")


def reward_text(value: float) -> str:
    """A reward for a table: thousands as "k" (MEC's rewards are tens of thousands)."""
    return f"{value / 1e3:.1f}k" if abs(value) >= 1e3 else f"{value:.1f}"


def reward_spread_text(values) -> str:
    """Rewards as median [min…max]."""
    return f"{reward_text(np.median(values))} [{reward_text(min(values))}…{reward_text(max(values))}]"


def describe_grid(run: Run) -> str:
    """Per variant and LR configuration, as Markdown, over seeds: the all-actors stopping
    episode and the first episode any critic was unchanged, the evaluation reward (last 10
    evaluations), the output saturation (last 10 episodes), the gradient ratio (median over
    the last 10 trained episodes) and the largest |z| of the final episode."""
    E = run.episodes
    lines = [
        provenance.describe(run.environment),
        "",
        f"{run.definition.train.learner_name} in {run.definition.train.domain}: {run.seeds} seed(s), {E} episodes; "
        f"stopping {E} = never. Cells: median [min…max] over seeds.",
        "",
        "| variant | actor LR | critic LR | all actors stopped | critic unchanged | eval reward | "
        "saturation | grad ratio | final max abs z |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for variant in run.variants:
        part = run.only_variant(variant)
        trained = part.metrics["trained"].astype(bool)
        for a, c in part.configs():
            lanes = part.select(actor_lr=a, critic_lr=c)
            stops = [part.stop(lane) for lane in lanes]
            critic = [part.lanes[lane]["critic_first_unchanged"] for lane in lanes]
            critic_text = "never" if all(x is None for x in critic) else str([E if x is None else x for x in critic])
            ratios = [np.median(part.metrics["grad_ratio"][lane][trained[lane]][-LAST:]) for lane in lanes]
            largest = [
                max(abs(part.metrics["preact_max"][lane, -1]), abs(part.metrics["preact_min"][lane, -1]))
                for lane in lanes
            ]
            lines.append(
                f"| {variant} | {a:g} | {c:g} | {np.median(stops):.0f} [{min(stops)}…{max(stops)}] | "
                f"{critic_text} | {reward_spread_text([mean_last_evaluations(part, lane) for lane in lanes])} | "
                f"{np.median([mean_last_saturation(part, lane) for lane in lanes]):.2f} | "
                f"{np.median(ratios):.2g} | {np.median(largest):.3g} |"
            )
    return "\n".join(lines) + "\n"


def setting_text(name: str, value) -> str:
    return f"{name}={ACTIVATION_NAMES[int(value)] if name == 'output_activation' else format(value, 'g')}"


def compare_variants(run: Run) -> str:
    """Per variant, as Markdown: how many configurations keep their actors learning (never
    all stopped), overall and at actor LR ≥ 0.01; the median stopping episode of those that
    stop; the evaluation reward (last 10 evaluations) and final output saturation."""
    E = run.episodes
    lines = [
        provenance.describe(run.environment),
        "",
        f"Variants compared on the same seeds ({run.seeds} seed(s)), {E} episodes, "
        f'{len(run.configs())} LR configurations each. "learning" = the actors never all stopped.',
        "",
        "| variant | settings | lanes learning | lanes learning, actor LR ≥ 0.01 | median stop of the rest | "
        "eval reward, median [min–max] | output saturation, median |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant in run.variants:
        part = run.only_variant(variant)
        lanes = [r["lane"] for r in part.lanes]
        high = [r["lane"] for r in part.lanes if r["actor_lr"] >= 0.01]
        stops = [part.stop(lane) for lane in lanes if part.stop(lane) < E]
        rewards = [mean_last_evaluations(part, lane) for lane in lanes]
        settings = ", ".join(setting_text(k, v) for k, v in run.definition.variants[variant].items()) or "–"
        learning = sum(part.stop(lane) == E for lane in lanes)
        learning_high = sum(part.stop(lane) == E for lane in high)
        median_stop = f"{np.median(stops):.0f}" if stops else "–"
        saturation = np.median([mean_last_saturation(part, lane) for lane in lanes])
        lines.append(
            f"| {variant} | {settings} | {learning}/{len(lanes)} | {learning_high}/{len(high)} | "
            f"{median_stop} | {reward_spread_text(rewards)} | {saturation:.2f} |"
        )
    return "\n".join(lines) + "\n"
