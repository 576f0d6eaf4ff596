"""The tanh-squashed Gaussian policy of stacked actors with 2A outputs, shared by SAC and
CCM-MADRL's stochastic actors: the mean head μ (the first A outputs) and the log-std head
(the last A, clipped to [``LOG_STD_MIN``, ``LOG_STD_MAX``]). An action is a = tanh(u),
u = μ + σ·ε, ε ~ N(0, 1); its log-density is the Gaussian's of u less Σ log(1 − tanh(u)²),
summed over agents and action dimensions (the agents' policies are independent)."""

from __future__ import annotations

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.networks import ensemble_preactivations

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # as in the original SAC and Stable-Baselines3


@struct.dataclass
class Policy:
    """A sample of the stacked policies: actions a (..., N, A) in (-1, 1), the joint
    log π(a|s) (...), the pre-squash sample u and the mean head μ (..., N, A)."""

    actions: chex.Array
    log_prob: chex.Array
    presquash: chex.Array
    mean: chex.Array


def sample_policy(actor: nn.Module, actor_params, obs, key, hparams: HyperParams) -> Policy:
    """The policies on obs (..., N, O), sampled with ``key`` (reparameterised: a function of
    the parameters, so that a loss on the sample reaches them)."""
    z = ensemble_preactivations(actor, actor_params, obs, hparams)
    mean, log_std = jnp.split(z, 2, axis=-1)
    log_std = jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX)
    shock = jax.random.normal(key, mean.shape)
    presquash = mean + jnp.exp(log_std) * shock
    gaussian = -0.5 * jnp.square(shock) - log_std - 0.5 * jnp.log(2.0 * jnp.pi)
    log_squash_slope = 2.0 * (jnp.log(2.0) - presquash - jax.nn.softplus(-2.0 * presquash))  # log(1 − tanh²)
    log_prob = jnp.sum(gaussian - log_squash_slope, axis=(-2, -1))
    return Policy(jnp.tanh(presquash), log_prob, presquash, mean)


def mean_action(actor: nn.Module, actor_params, obs, hparams: HyperParams) -> tuple[chex.Array, chex.Array]:
    """(tanh(μ) (..., N, A), the mean head μ): the policies' greedy actions on obs (..., N, O)."""
    mean, _ = jnp.split(ensemble_preactivations(actor, actor_params, obs, hparams), 2, axis=-1)
    return jnp.tanh(mean), mean
