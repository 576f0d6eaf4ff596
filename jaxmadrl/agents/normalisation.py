"""Running statistics the learner keeps of what it sees: rewards (for the optional reward
normalisation) and each actor's observations (for the optional full normalisation).

Both are explicit state in ``LearnerState``, updated by pure functions; neither changes
anything while its switch is off.
"""

from __future__ import annotations

import chex
import jax.numpy as jnp
from flax import struct

INPUT_MOMENTUM = 0.99  # weight of the old statistics in each update of the input statistics
INPUT_EPSILON = 1e-5  # added to the standard deviation, not the variance


@struct.dataclass
class RewardStats:
    """Running count, mean and sum of squared deviations of the rewards seen (scalars)."""

    count: chex.Array
    mean: chex.Array
    m2: chex.Array


def init_reward_stats() -> RewardStats:
    return RewardStats(count=jnp.float32(0), mean=jnp.float32(0), m2=jnp.float32(0))


def update_reward_stats(stats: RewardStats, rewards: chex.Array) -> RewardStats:
    """Adds a batch of rewards (T,) to the running statistics (Chan et al.'s combination)."""
    n_new = rewards.shape[0]
    new_mean = jnp.mean(rewards)
    count = stats.count + n_new
    delta = new_mean - stats.mean
    return RewardStats(
        count=count,
        mean=stats.mean + delta * n_new / count,
        m2=stats.m2 + jnp.sum(jnp.square(rewards - new_mean)) + delta**2 * stats.count * n_new / count,
    )


def normalised_reward(stats: RewardStats, reward: chex.Array, enabled: chex.Array) -> chex.Array:
    """(r − mean) / std with the running statistics where ``enabled`` is 1, else r unchanged."""
    std = jnp.sqrt(stats.m2 / jnp.maximum(stats.count - 1.0, 1.0))
    return jnp.where(enabled > 0, (reward - stats.mean) / (std + 1e-8), reward)


@struct.dataclass
class InputStats:
    """Exponential moving mean and variance of each actor's observation: (N, 7) each."""

    mean: chex.Array
    var: chex.Array


def init_input_stats(n_agents: int, obs_dim: int) -> InputStats:
    """Mean 0 and variance 1: at first the normalisation changes nothing (but ε)."""
    return InputStats(mean=jnp.zeros((n_agents, obs_dim)), var=jnp.ones((n_agents, obs_dim)))


def update_input_stats(stats: InputStats, obs: chex.Array) -> InputStats:
    """One update from a batch obs (B, N, 7), actor n from its own column: each statistic
    becomes 0.99·old + 0.01·(the batch's mean / biased variance). A batch of one sample
    (acting) has variance 0, so acting pulls the variance towards 0."""
    chex.assert_rank(obs, 3)
    rate = 1.0 - INPUT_MOMENTUM
    return InputStats(
        mean=INPUT_MOMENTUM * stats.mean + rate * jnp.mean(obs, axis=0),
        var=INPUT_MOMENTUM * stats.var + rate * jnp.var(obs, axis=0),
    )


def normalised_input(stats: InputStats, obs: chex.Array, enabled: chex.Array) -> chex.Array:
    """obs (..., N, 7) as (obs − mean) / (√var + ε) where ``enabled`` is 1, else unchanged."""
    return jnp.where(enabled > 0, (obs - stats.mean) / (jnp.sqrt(stats.var) + INPUT_EPSILON), obs)
