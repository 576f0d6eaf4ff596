"""SAC on an environment of another package (``domains``), instrumented as every learner
is; the program around it (acting, replay, episodes) is ``off_policy``'s.

Each agent's actor is a member of the stacked ensemble with 2A outputs, a tanh-squashed
Gaussian policy (``tanh_gaussian``: the mean head μ and the clipped log-std head; joint
log π summed over agents and action dimensions). Twin critics
(``critics.TwinCritics``) learn towards

    y = reward_scale·r + γ·(1 − terminated)·(min_c Q'_c(s', a') − α·log π(a'|s')),  a' ~ π(s'),

with soft targets of weight ``config.tau``; then every actor minimises, through the updated
critics, mean_b [α·log π(a_b|s_b) − min_c Q_c(s_b, a_b)], a_b ~ π(s_b) reparameterised; then,
if ``learned_temperature``, log α takes an Adam step on −log α·(log π + H̄), H̄ = −N·A the
target entropy. α in the target and the actor loss is the one before its step. Acting
samples the policy; evaluation acts by tanh(μ). The pre-activation instruments read the
pre-squash sample u (it is what tanh saturates on) and, apart, the mean head.
"""

from __future__ import annotations

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxmadrl.agents import critics, diagnostics, metric_schema, off_policy
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.diagnostics import SATURATION_LEVEL
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.networks import ActorEnsemble, sized
from jaxmadrl.agents.optimisers import actor_step, adam, adam_states, clip_global, clip_per_agent
from jaxmadrl.agents.scaffold import Trainer
from jaxmadrl.agents.tanh_gaussian import mean_action, sample_policy

TWINS = 2


@struct.dataclass
class LearnerState:
    """Online parameters and Adam states (actor leaves with a leading agent axis N, the
    critics' with a leading critic axis C), the critics' targets, and log α with its Adam
    state."""

    actor_params: chex.ArrayTree
    actor_opt_state: optax.OptState
    critic_params: chex.ArrayTree
    critic_target: chex.ArrayTree
    critic_opt_state: optax.OptState
    log_temperature: chex.Array
    temperature_opt_state: optax.OptState


def networks_of(config: TrainConfig) -> tuple[nn.Module, nn.Module]:
    """(the actor ensemble with mean and log-std heads, the twin critics)."""
    spec = config.spec
    actor = ActorEnsemble(action_dim=2 * spec.action_dim, hidden=tuple(config.actor_hidden), hidden_norms=False)
    return actor, critics.critics_of(config.critic_hidden, TWINS)


def init_learner(key: chex.PRNGKey, config: TrainConfig, hparams: HyperParams) -> LearnerState:
    spec = config.spec
    actor, critic = networks_of(config)
    k_actor, k_critic = jax.random.split(key)
    obs = jnp.zeros((spec.n_agents, spec.obs_dim))
    actor_params = actor.init(k_actor, obs, 0.0, 0.0, 0.0)
    critic_params = critic.init(k_critic, obs, jnp.zeros((spec.n_agents, spec.action_dim)))
    actor_params, critic_params = sized(actor_params, critic_params, config, hparams)
    actor_opt_state, critic_opt_state = adam_states(actor_params, critic_params)
    log_temperature = jnp.log(jnp.asarray(hparams.entropy_temperature, jnp.float32))
    return LearnerState(
        actor_params=actor_params,
        actor_opt_state=actor_opt_state,
        critic_params=critic_params,
        critic_target=critic_params,
        critic_opt_state=critic_opt_state,
        log_temperature=log_temperature,
        temperature_opt_state=adam(1.0).init(log_temperature),
    )


def temperature(learner: LearnerState, hparams: HyperParams) -> chex.Array:
    """α: exp(log α) if learned, else the fixed ``entropy_temperature``."""
    return jnp.where(hparams.learned_temperature > 0, jnp.exp(learner.log_temperature), hparams.entropy_temperature)


def td_targets(learner: LearnerState, batch, key, hparams: HyperParams, config: TrainConfig) -> chex.Array:
    actor, critic = networks_of(config)
    following = sample_policy(actor, learner.actor_params, batch.next_obs, key, hparams)
    next_q = jnp.min(critics.q_values(critic, learner.critic_target, batch.next_obs, following.actions), axis=0)
    soft_value = next_q - temperature(learner, hparams) * following.log_prob
    return hparams.reward_scale * batch.reward + hparams.gamma * (1.0 - batch.terminated) * soft_value


def actor_loss(actor_params, actor, critic, critic_params, obs, key, alpha, hparams: HyperParams):
    """mean_b [α·log π(a|s) − min_c Q_c(s, a)] plus each actor's pre-activation penalty on
    its mean head, λ·mean(μ_n²) → (loss, the sampled ``Policy``)."""
    policy = sample_policy(actor, actor_params, obs, key, hparams)
    q = jnp.min(critics.q_values(critic, critic_params, obs, policy.actions), axis=0)
    penalty = hparams.preactivation_penalty * policy.mean.shape[-2] * jnp.mean(jnp.square(policy.mean))
    return jnp.mean(alpha * policy.log_prob - q) + penalty, policy


def temperature_step(learner: LearnerState, log_prob: chex.Array, hparams: HyperParams, target_entropy: float):
    """(log α, its Adam state) after one step on −log α·mean(log π + H̄) if learned."""
    grad = jax.grad(lambda log_alpha: -log_alpha * jnp.mean(jax.lax.stop_gradient(log_prob) + target_entropy))
    updates, opt_state = adam(hparams.temperature_lr).update(
        grad(learner.log_temperature), learner.temperature_opt_state, learner.log_temperature
    )
    learned = hparams.learned_temperature > 0
    stepped = optax.apply_updates(learner.log_temperature, updates)
    return jnp.where(learned, stepped, learner.log_temperature), jax.tree.map(
        lambda new, old: jnp.where(learned, new, old), opt_state, learner.temperature_opt_state
    )


def update(learner: LearnerState, batch, key, hparams: HyperParams, config: TrainConfig):
    """One SAC update on a batch (leading axis B) → (learner, metrics); gradient norms are
    those before any clipping."""
    chex.assert_rank(batch.obs, 3)
    actor, critic = networks_of(config)
    k_target, k_actor = jax.random.split(key)
    alpha = temperature(learner, hparams)
    targets = td_targets(learner, batch, k_target, hparams, config)
    (loss, q), critic_grads = jax.value_and_grad(critics.td_loss, has_aux=True)(
        learner.critic_params, critic, batch.obs, batch.actions, targets
    )
    updates, critic_opt_state = adam(hparams.critic_lr).update(
        clip_global(critic_grads, hparams.critic_grad_clip), learner.critic_opt_state, learner.critic_params
    )
    critic_params = optax.apply_updates(learner.critic_params, updates)

    (_, policy), actor_grads = jax.value_and_grad(actor_loss, has_aux=True)(
        learner.actor_params, actor, critic, critic_params, batch.obs, k_actor, alpha, hparams
    )
    actor_params, actor_opt_state = actor_step(
        learner.actor_params, learner.actor_opt_state, clip_per_agent(actor_grads, hparams.actor_grad_clip), hparams
    )
    log_temperature, temperature_opt_state = temperature_step(
        learner, policy.log_prob, hparams, -float(config.spec.n_agents * config.spec.action_dim)
    )
    new_learner = LearnerState(
        actor_params=actor_params,
        actor_opt_state=actor_opt_state,
        critic_params=critic_params,
        critic_target=off_policy.soft_update(learner.critic_target, critic_params, config.tau),
        critic_opt_state=critic_opt_state,
        log_temperature=log_temperature,
        temperature_opt_state=temperature_opt_state,
    )
    metrics = {
        "critic_loss": loss,
        "mean_q": jnp.mean(q),
        "td_error": jnp.mean(jnp.abs(q - targets)),
        **diagnostics.actor_gradient_metrics(actor_grads),
        **critics.critic_gradient_metrics(critic_grads),
        "actor_max_delta": diagnostics.max_abs_change_per_agent(learner.actor_params, actor_params),
        "critic_max_delta": diagnostics.max_abs_change(learner.critic_params, critic_params),
        **diagnostics.preactivation_stats(policy.presquash, policy.actions),
        "mean_head_abs_gt2": jnp.mean(jnp.abs(policy.mean) > 2.0),
        "mean_head_saturation": jnp.mean(jnp.abs(jnp.tanh(policy.mean)) > SATURATION_LEVEL),
        "temperature": alpha,
        "entropy": -jnp.mean(policy.log_prob),
    }
    metrics["grad_ratio"] = diagnostics.gradient_ratio(metrics["actor_grad_norm"], metrics["critic_grad_norm"])
    return new_learner, metric_schema.checked(metric_schema.SAC, metrics, "update")


def _actions(learner: LearnerState, obs, key, hparams: HyperParams, config: TrainConfig) -> chex.Array:
    """tanh(μ) (N, A) with ``key`` None, else a sample of the policies."""
    actor = networks_of(config)[0]
    if key is None:
        return mean_action(actor, learner.actor_params, obs, hparams)[0]
    return sample_policy(actor, learner.actor_params, obs, key, hparams).actions


ALGORITHM = off_policy.Algorithm(init_learner=init_learner, update=update, actions=_actions, stochastic=True)


def make_trainer(config: TrainConfig) -> Trainer:
    """The training program of SAC in a foreign domain."""
    return off_policy.make_trainer(config, ALGORITHM)
