"""A MEC run's rewards against the heuristic policies (``envs.heuristics``) on the same worlds
and the same evaluation episodes: what a reward of −35,000 means."""

from __future__ import annotations

import functools

import jax
import numpy as np

from jaxmadrl.agents.ccm.training import world_and_eval_key
from jaxmadrl.core.keys import seed_key
from jaxmadrl.envs import domains, heuristics
from jaxmadrl.store.loading import Run


def heuristic_rewards(run: Run) -> dict[str, dict[int, float]]:
    """Heuristic → seed → its mean evaluation reward on that seed's world and evaluation
    episodes (the lanes of a seed share both). MEC runs only (ValueError otherwise)."""
    if run.definition.train.domain != domains.MEC:
        raise ValueError(f"heuristics exist for the MEC world only, not {run.definition.train.domain!r}")
    config = run.definition.train
    seeds = sorted({row["seed"] for row in run.lanes})
    evaluate_all = _evaluate_all(config.env, config.eval_episodes)
    # Seed by seed: one compiled program for runs of any number of seeds (the same rewards,
    # bit for bit, as one call over all seeds, which would be compiled again for each count).
    per_seed = [evaluate_all(seed_key(np.uint32(seed))[None]) for seed in seeds]
    return {
        name: {seed: float(summary[name]["reward"][0]) for seed, summary in zip(seeds, per_seed)}
        for name in heuristics.HEURISTICS
    }


@functools.lru_cache(maxsize=16)
def _evaluate_all(params, episodes: int):
    """One program: from seeds' keys (S,), their worlds, evaluation keys and every heuristic's
    evaluation over ``episodes`` episodes of ``params``; the same function for equal
    arguments, so that JAX compiles it once per process (and per S)."""

    @jax.jit
    def evaluate_all(keys):
        worlds, eval_keys = jax.vmap(lambda key: world_and_eval_key(key, params))(keys)
        return {
            name: jax.vmap(functools.partial(heuristics.evaluate, name, params=params, episodes=episodes))(
                eval_keys, worlds
            )
            for name in heuristics.HEURISTICS
        }

    return evaluate_all


def describe_baselines(run: Run, rewards: dict[str, dict[int, float]] | None = None) -> str:
    """Markdown: per seed (world), each heuristic's evaluation reward next to the learners'
    last evaluation reward (min / median / max over the seed's lanes), and in how many lanes
    the learner beats each heuristic."""
    rewards = rewards or heuristic_rewards(run)
    names = list(heuristics.HEURISTICS)
    config = run.definition.train
    lines = [
        f"Heuristics against the learners' last evaluation ({config.eval_episodes} fixed greedy episodes "
        f"of {config.env.steps_per_episode} steps, world {config.env.world!r}; rewards are episode sums).",
        "",
        "| seed | " + " | ".join(names) + " | learners: min | median | max |",
        "|---" * (len(names) + 4) + "|",
    ]
    for seed in sorted(rewards[names[0]]):
        ours = [run.lanes[lane]["last_eval_reward"] for lane in run.select(seed=seed)]
        ours = np.array([value for value in ours if value is not None and np.isfinite(value)])
        cells = [f"{rewards[name][seed]:.1f}" for name in names]
        learners = [f"{f(ours):.1f}" for f in (np.min, np.median, np.max)] if ours.size else ["–"] * 3
        lines.append(f"| {seed} | " + " | ".join(cells + learners) + " |")
    lines += ["", "Lanes whose last evaluation beats the heuristic on their own world:", ""]
    for name in names:
        beaten = [
            row["last_eval_reward"] > rewards[name][row["seed"]]
            for row in run.lanes
            if row["last_eval_reward"] is not None and np.isfinite(row["last_eval_reward"])
        ]
        lines.append(f"- {name}: {sum(beaten)}/{len(beaten)}")
    return "\n".join(lines) + "\n"
