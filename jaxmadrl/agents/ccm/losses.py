"""The CCM-MADRL losses and TD targets over a batch (leading axis B) of stored steps.

Shapes: B batch, N agents, H1 the critic's first hidden width, R = most agents the master
can accept in one step. Exact shortcuts, each tested against the plain formulation:
- the critic's first layer is split, so its joint part is computed once per sample;
- the critic loss evaluates only the (at most R) selected rows of each sample;
- the actor loss back-propagates only through the arg-max row of each sample (the max's
  gradient is zero elsewhere); the other rows are evaluated without gradient.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import chex
import jax
import jax.numpy as jnp

from jaxmadrl.agents import tanh_gaussian
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.networks import Critic, Networks, ensemble_outputs
from jaxmadrl.agents.normalisation import InputStats, normalised_input, normalised_reward

if TYPE_CHECKING:
    from jaxmadrl.agents.ccm.learner import LearnerState, Transition


def actor_outputs(networks: Networks, actor_params, obs: chex.Array, input_stats: InputStats, hparams: HyperParams):
    """obs (..., N, 7) → (actions (..., N, 3) in [-1, 1], pre-activations z (..., N, 3)): the
    actors' outputs, or for stochastic actors tanh of their mean head and the mean head.
    Under full normalisation each actor first normalises its input by ``input_stats``."""
    inputs = normalised_input(input_stats, obs, hparams.full_normalisation)
    if networks.stochastic:
        return tanh_gaussian.mean_action(networks.actor, actor_params, inputs, hparams)
    return ensemble_outputs(networks.actor, actor_params, inputs, hparams)


def sampled_actions(networks: Networks, actor_params, obs, input_stats: InputStats, hparams: HyperParams, key):
    """Stochastic actors' sample on obs (..., N, 7) (``tanh_gaussian.Policy``: actions,
    joint log π, mean head), reparameterised."""
    inputs = normalised_input(input_stats, obs, hparams.full_normalisation)
    return tanh_gaussian.sample_policy(networks.actor, actor_params, inputs, key, hparams)


def critic_rows(networks: Networks, critic_params, obs: chex.Array, actions: chex.Array, hidden_norm: chex.Numeric):
    """Q of every agent row: obs (..., N, 7), actions (..., N, 3) → (joint (..., H1), q (..., N)).
    ``hidden_norm``: the critic's hidden LayerNorms on (1) or off (0)."""
    joint = networks.critic.apply(critic_params, obs, actions, method=Critic.joint_features)
    q = networks.critic.apply(critic_params, joint[..., None, :], obs, actions, hidden_norm, method=Critic.head)
    return joint, q


def zero_row_q(networks: Networks, critic_params, joint: chex.Array, hidden_norm: chex.Numeric) -> chex.Array:
    """Q with own state and action zero, from the joint part (..., H1) → (...)."""
    return networks.critic.apply(critic_params, joint, hidden_norm, method=Critic.zero_row)


def best_proposal_value(q: chex.Array, proposals: chex.Array, zero_q: chex.Array) -> chex.Array:
    """max over proposing rows of q (..., N), or the zero-row value (...) if none proposes."""
    best = jnp.max(jnp.where(proposals, q, -jnp.inf), axis=-1)
    return jnp.where(jnp.any(proposals, axis=-1), best, zero_q)


def td_targets(networks: Networks, learner: LearnerState, reward, next_obs, done, hparams: HyperParams) -> chex.Array:
    """y = scale·r + γ·(1 − done)·(best target-critic value of the target actors' proposals),
    r normalised by the running reward statistics if ``hparams.reward_normalisation``.

    reward, done (...); next_obs (..., N, 7) → (...).
    """
    next_actions, _ = actor_outputs(networks, learner.actor_target, next_obs, learner.actor_input_stats, hparams)
    hidden_norm = hparams.full_normalisation
    joint, q = critic_rows(networks, learner.critic_target, next_obs, next_actions, hidden_norm)
    zero_q = zero_row_q(networks, learner.critic_target, joint, hidden_norm)
    value = best_proposal_value(q, next_actions[..., 0] >= 0, zero_q)
    reward = normalised_reward(learner.reward_stats, reward, hparams.reward_normalisation)
    return hparams.reward_scale * reward + hparams.gamma * (1.0 - done) * value


def squared_errors(q_selected: chex.Array, selected: chex.Array, q_zero: chex.Array, targets: chex.Array) -> chex.Array:
    """Σ over selected rows of (Q − y)², or (Q_zero − y)² when none is selected.

    q_selected, selected (..., R); q_zero, targets (...) → (...).
    """
    row_errors = jnp.sum(jnp.where(selected, jnp.square(q_selected - targets[..., None]), 0.0), axis=-1)
    return jnp.where(jnp.any(selected, axis=-1), row_errors, jnp.square(q_zero - targets))


def selected_rows(selected: chex.Array, max_rows: int):
    """The indices of the selected agents, padded: selected (B, N) 0/1 → (rows (B, R), mask (B, R))."""
    rows = jnp.argsort(-selected, axis=-1, stable=True)[..., :max_rows]
    return rows, jnp.take_along_axis(selected, rows, axis=-1) > 0


def critic_loss(critic_params, networks: Networks, batch: Transition, targets, weights, max_rows: int, hidden_norm):
    """Mean over the (sample, selected agent) pairs — or the zero-row pair of a sample with
    none — of (w·Q − w·y)². Returns (loss, aux) with per-sample squared errors (B,)."""
    joint = networks.critic.apply(critic_params, batch.obs, batch.actions, method=Critic.joint_features)
    rows, mask = selected_rows(batch.selected, max_rows)
    own_obs = jnp.take_along_axis(batch.obs, rows[..., None], axis=-2)
    own_actions = jnp.take_along_axis(batch.actions, rows[..., None], axis=-2)
    q = networks.critic.apply(critic_params, joint[..., None, :], own_obs, own_actions, hidden_norm, method=Critic.head)
    q_zero = zero_row_q(networks, critic_params, joint, hidden_norm)
    # Pairs: the R selectable rows, then the zero row (used iff nothing is selected).
    pair_q = jnp.concatenate([q, q_zero[:, None]], axis=-1)
    pair_mask = jnp.concatenate([mask, ~jnp.any(mask, axis=-1, keepdims=True)], axis=-1)
    w = weights[:, None]
    # The importance weight multiplies Q and y before squaring, so it enters squared: this
    # is the reference's loss (an MSE over the stacked w·Q and w·y; docs/SPEC.md §4), kept as it is.
    weighted = jnp.square(w * pair_q - w * targets[:, None])
    n_pairs = jnp.sum(pair_mask)
    loss = jnp.sum(jnp.where(pair_mask, weighted, 0.0)) / n_pairs
    aux = {
        "errors": squared_errors(q, mask, q_zero, targets),
        "mean_q": jnp.sum(jnp.where(pair_mask, pair_q, 0.0)) / n_pairs,
        "td_error": jnp.sum(jnp.where(pair_mask, jnp.abs(pair_q - targets[:, None]), 0.0)) / n_pairs,
    }
    return loss, aux


def actor_loss(
    actor_params, networks: Networks, critic_params, obs, input_stats, weights, hparams: HyperParams, key=None
):
    """−mean_b w_b·(max over proposing agents of Q(s_b, â_b, s_bn, â_bn), or the zero-row Q),
    with â the actors' fresh outputs, plus each actor's pre-activation penalty. Stochastic
    actors: â sampled with ``key`` (reparameterised), less the entropy bonus entropy_coef·H,
    H = mean_b −log π(â_b|s_b) joint over agents (each actor's own term is the only one its
    parameters reach). Returns (loss, pre-activations z (B, N, 3): the mean
    head of stochastic actors)."""
    if networks.stochastic:
        policy = sampled_actions(networks, actor_params, obs, input_stats, hparams, key)
        actions, z, bonus = policy.actions, policy.mean, hparams.entropy_coef * jnp.mean(-policy.log_prob)
    else:
        (actions, z), bonus = actor_outputs(networks, actor_params, obs, input_stats, hparams), None
    hidden_norm = hparams.full_normalisation
    joint = networks.critic.apply(critic_params, obs, actions, method=Critic.joint_features)
    q_all = networks.critic.apply(
        critic_params,
        jax.lax.stop_gradient(joint)[..., None, :],
        obs,
        jax.lax.stop_gradient(actions),
        hidden_norm,
        method=Critic.head,
    )
    proposals = actions[..., 0] >= 0
    best = jnp.argmax(jnp.where(proposals, q_all, -jnp.inf), axis=-1)
    own_obs = jnp.take_along_axis(obs, best[:, None, None], axis=-2)[:, 0]
    own_actions = jnp.take_along_axis(actions, best[:, None, None], axis=-2)[:, 0]
    q_best = networks.critic.apply(critic_params, joint, own_obs, own_actions, hidden_norm, method=Critic.head)
    value = jnp.where(jnp.any(proposals, axis=-1), q_best, zero_row_q(networks, critic_params, joint, hidden_norm))
    # Actor n's own penalty λ·mean(z_n²) is the only penalty term its parameters reach, so
    # the sum over actors, λ·N·mean(z²), gives each actor its own.
    penalty = hparams.preactivation_penalty * z.shape[-2] * jnp.mean(jnp.square(z))
    loss = -jnp.mean(weights * value) + penalty
    return (loss if bonus is None else loss - bonus), z
