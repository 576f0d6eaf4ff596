"""Every metric a learner records, defined once: its name, the shape it has per lane and
episode, its unit, what it means and which learners produce it.

A run's ``metrics.npz`` holds each metric as (lanes, episodes, *shape). Both learners
build their per-episode dictionaries through ``checked``, so a metric cannot be added,
renamed or dropped in one learner without the schema; results, analysis and figures read
the names listed here, and the README's metric table is ``markdown_table()``. Where a
quantity has no meaning for a learner, the learner does not produce it: the metric is
absent from its runs, not zero. Formulas: ``docs/SPEC.md`` §5.

Shapes: "" a scalar, "N" one value per agent (actor), "L" one per layer (input first), "C"
one per critic (twin critics), "A" one per output head (action dimension).
Groups: "episode" (every episode), "update" (the episode's train step; NaN in an episode
without one), "evaluation" (greedy evaluation; NaN in an episode that has none).
"""

from __future__ import annotations

import dataclasses

import chex

from jaxmadrl.agents.diagnostics import SATURATION_LEVEL as LEVEL

CCM = "ccm"  # CCM-MADRL in the MEC world
DDPG, TD3, SAC = "ddpg", "td3", "sac"  # the replay learners elsewhere (DDPG: MADDPG for several agents)
PPO = "ppo"  # on-policy, with a state-value critic
ALL = (CCM, DDPG, TD3, SAC, PPO)
Q_LEARNERS = (CCM, DDPG, TD3, SAC)  # critics of actions
TWINS = (TD3, SAC)  # twin critics


@dataclasses.dataclass(frozen=True)
class Metric:
    name: str
    group: str
    shape: str
    unit: str
    meaning: str
    learners: tuple[str, ...] = ALL


SCHEMA = (
    Metric("train_reward", "episode", "", "reward", "the exploring episode's return (sum of its step rewards)"),
    Metric("server_overflow", "episode", "", "fraction", "steps whose selection exceeded a server limit", (CCM,)),
    Metric("energy_violation", "episode", "", "fraction", "mean over steps of the battery-violation share", (CCM,)),
    Metric("time_violation", "episode", "", "fraction", "mean over steps of the deadline-violation share", (CCM,)),
    Metric(
        "epsilon",
        "episode",
        "",
        "1",
        "exploration ε (MEC: random-selection probability; else noise std)",
        (CCM, DDPG, TD3),
    ),
    Metric("trained", "episode", "", "bool", "whether a train step followed the episode"),
    Metric("eval_reward", "evaluation", "", "reward", "mean return of the fixed greedy evaluation episodes"),
    Metric("eval_server_overflow", "evaluation", "", "fraction", "server_overflow of the evaluation", (CCM,)),
    Metric("eval_energy_violation", "evaluation", "", "fraction", "energy_violation of the evaluation", (CCM,)),
    Metric("eval_time_violation", "evaluation", "", "fraction", "time_violation of the evaluation", (CCM,)),
    Metric(
        "critic_loss",
        "update",
        "",
        "reward²",
        "the critic's (importance-weighted) mean squared TD error; twins: sum; PPO: (V − return)²",
    ),
    Metric("mean_q", "update", "", "reward", "mean Q of the batch's taken actions (over twins too)", Q_LEARNERS),
    Metric("td_error", "update", "", "reward", "mean |Q − target| over the batch (over twins too)", Q_LEARNERS),
    Metric("actor_grad_norm", "update", "", "L2", "RMS over agents of each actor's gradient norm (before clipping)"),
    Metric("actor_grad_norm_layers", "update", "L", "L2", "RMS over agents of each actor layer's gradient norm"),
    Metric("actor_grad_norm_agents", "update", "N", "L2", "each actor's gradient norm"),
    Metric("critic_grad_norm", "update", "", "L2", "the critic's gradient norm (before clipping); twins: RMS"),
    Metric(
        "critic_grad_norm_layers", "update", "L", "L2", "each critic layer's gradient norm (twins: RMS); 0 in 1: dead"
    ),
    Metric(
        "critic_input_grad_norm",
        "update",
        "C",
        "L2",
        "each twin critic's first-layer gradient norm (where actions enter); 0: that critic is dead",
        TWINS,
    ),
    Metric("grad_ratio", "update", "", "1", "actor_grad_norm / critic_grad_norm"),
    Metric(
        "accumulated_actor_grad_norm",
        "update",
        "",
        "L2",
        "the reference's logged actor norm: its gradient buffers after the loop over agents",
        (CCM,),
    ),
    Metric(
        "accumulated_critic_grad_norm",
        "update",
        "",
        "L2",
        "the reference's logged critic norm: clipped loss gradient plus every actor pass",
        (CCM,),
    ),
    Metric(
        "accumulated_actor_grad_norm_layers",
        "update",
        "L",
        "L2",
        "accumulated_actor_grad_norm per layer (RMS over agents), as the reference logs it",
        (CCM,),
    ),
    Metric(
        "accumulated_critic_grad_norm_layers", "update", "L", "L2", "accumulated_critic_grad_norm per layer", (CCM,)
    ),
    Metric("accumulated_grad_ratio", "update", "", "1", "accumulated actor / critic norm", (CCM,)),
    Metric("actor_max_delta", "update", "N", "weight", "each actor's largest |Δθ| in the update; 0: unchanged"),
    Metric("critic_max_delta", "update", "", "weight", "the critic's largest |Δθ| in the update; 0: unchanged"),
    Metric("preact_mean", "update", "", "z", "mean of the actors' output pre-activations z on the batch"),
    Metric("preact_std", "update", "", "z", "standard deviation of z"),
    Metric("preact_min", "update", "", "z", "smallest z"),
    Metric("preact_max", "update", "", "z", "largest z"),
    Metric("preact_abs_gt2", "update", "", "fraction", "share of |z| > 2"),
    Metric(
        "output_mean",
        "update",
        "",
        "output",
        "mean of the actors' outputs φ(z) on the batch (SAC: squashed actions, PPO: the mean head or the "
        "categorical probabilities)",
    ),
    Metric("output_min", "update", "", "output", "smallest output"),
    Metric("output_max", "update", "", "output", "largest output"),
    Metric("output_head_mean", "update", "A", "output", "mean output of each head (MEC: decision, α, ρ)"),
    Metric(
        "saturation",
        "update",
        "",
        "fraction",
        f"share of outputs a of the activation in use with |a| > {LEVEL} (categorical PPO: of states whose "
        f"likeliest action has p > {LEVEL})",
    ),
    Metric("tanh_saturation", "update", "", "fraction", f"share of |tanh(z)| > {LEVEL} (the paper's measure)"),
    Metric("mean_head_abs_gt2", "update", "", "fraction", "SAC: share of |μ| > 2 of the mean head μ", (SAC,)),
    Metric("mean_head_saturation", "update", "", "fraction", f"SAC: share of |tanh(μ)| > {LEVEL}", (SAC,)),
    Metric("temperature", "update", "", "1", "SAC: the entropy temperature α the update used", (SAC,)),
    Metric(
        "entropy",
        "update",
        "",
        "nats",
        "the policy's entropy, joint over agents: SAC −mean log π(a|s) of fresh actions, PPO the Gaussian's "
        "(categorical: its batch mean)",
        (SAC, PPO),
    ),
    Metric("approx_kl", "update", "", "nats", "PPO: mean (ρ − 1) − log ρ over the minibatch, ρ the ratio", (PPO,)),
    Metric("clip_fraction", "update", "", "fraction", "PPO: share of the minibatch with |ρ − 1| > clip_ratio", (PPO,)),
)
METRICS = {metric.name: metric for metric in SCHEMA}
GROUPS = ("episode", "evaluation", "update")


def names(learner: str, group: str | None = None) -> tuple[str, ...]:
    """The metrics ``learner`` produces (of ``group`` only, if given), in schema order."""
    return tuple(m.name for m in SCHEMA if learner in m.learners and group in (None, m.group))


def checked(learner: str, values: dict[str, chex.Array], group: str | None = None) -> dict[str, chex.Array]:
    """``values`` if its names are exactly the schema's for ``learner`` (and ``group``, if
    given) and each has the rank its shape says (asserted while tracing); ValueError
    naming the difference otherwise."""
    expected = names(learner, group)
    if set(values) != set(expected):
        missing, extra = sorted(set(expected) - set(values)), sorted(set(values) - set(expected))
        raise ValueError(f"{learner} metrics differ from the schema: missing {missing}, not in it {extra}")
    for name, value in values.items():
        chex.assert_rank(value, len(METRICS[name].shape), custom_message=name)
    return {name: values[name] for name in expected}


def markdown_table() -> str:
    """The schema as the README shows it."""
    rows = ["| metric | shape | unit | learners | meaning |", "|---|---|---|---|---|"]
    for m in SCHEMA:
        shape = f"({', '.join(m.shape)})" if m.shape else "scalar"
        rows.append(f"| `{m.name}` | {shape} | {m.unit} | {', '.join(m.learners)} | {m.meaning} |")
    return "\n".join(rows)
