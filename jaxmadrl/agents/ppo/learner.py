"""PPO on an environment of another package (``domains``), instrumented as every learner is.

One program episode is one PPO iteration: a rollout of ``spec.steps_per_episode`` steps in
each of ``config.rollout_envs`` environments started from a reset, generalised advantage
estimates, then ``update_epochs`` passes over the rollout in ``minibatches`` shuffled
minibatches, each an Adam step of every actor (its own Adam, as in every learner) and of
the value network. In a continuous action space actor n's policy is N(μ_n(s), σ_n²) per
action dimension, σ_n = exp of a learned state-independent log-std (initially 0); μ is the
ensemble's output pre-activation z (``policy_mean`` "unbounded", the Baselines PPO) or
tanh(z) ("tanh"). The sample goes to the environment clipped to [-1, 1]; its log-density is
the unclipped Gaussian's, joint over agents. In a discrete action space the policy is
categorical, softmax(z) over the A choices, and its entropy depends on the state (the
bonus and the metric are its mean over the batch). The value network V(all observations)
is the centralised critic without actions.

    δ_t = r_t + γ·(1 − terminated_t)·V(s'_t) − V(s_t),  A_t = δ_t + γλ·(1 − done_t)·A_{t+1}
    actor:  −mean min(ρ·Â, clip(ρ, 1 ± ε)·Â) − c_H·H[π] + λ_pre·N·mean(z²),  ρ = π(a|s)/π_old(a|s)
    value:  mean (V(s) − (A + V_old(s)))²

Â is A standardised within the minibatch; s'_t is the true next observation (bootstrapped
through a time limit, not through a termination). An episode's metrics are those of its
last minibatch, ``actor_max_delta``/``critic_max_delta`` the largest over all its steps;
``train_reward`` is the mean over environments of the rollout's episode begun at the reset.
Evaluation acts by clip(μ, −1, 1), or the most probable choice. The pre-activation
instruments read the head's z (the logits of a categorical policy, whose outputs are its
probabilities and whose ``saturation`` is the share of states whose most probable choice
has p > 0.9: softmax's flat range, where its gradient p(1 − p) vanishes).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxmadrl.agents import critics, diagnostics, metric_schema
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.networks import ActorEnsemble, ensemble_preactivations, sized
from jaxmadrl.agents.optimisers import actor_step, adam, adam_states, clip_global, clip_per_agent
from jaxmadrl.agents.scaffold import EpisodeClock, Trainer, assemble_trainer, nan_like, traced_once
from jaxmadrl.envs import domains

LOG_STD = "log_std"  # the actors' log-std, an (N, A) leaf beside their dense layers
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


@struct.dataclass
class LearnerState:
    """Actor parameters (leading agent axis N; ``params[LOG_STD]`` (N, A) among them), the
    value network's, and their Adam states."""

    actor_params: chex.ArrayTree
    actor_opt_state: optax.OptState
    critic_params: chex.ArrayTree
    critic_opt_state: optax.OptState


@struct.dataclass
class Rollout:
    """T steps of E environments, (T, E, ...): obs (N, O), actions (N, A) as sampled
    (unclipped) or (N,) choices, their joint log π, V(obs), reward, terminated and done (0/1)."""

    obs: chex.Array
    actions: chex.Array
    log_prob: chex.Array
    value: chex.Array
    reward: chex.Array
    next_value: chex.Array
    terminated: chex.Array
    done: chex.Array


@struct.dataclass
class TrainState:
    learner: LearnerState
    tracker: diagnostics.StopTracker
    key: chex.PRNGKey
    eval_key: chex.PRNGKey  # fixed: every evaluation plays the same episodes


@dataclasses.dataclass(frozen=True)
class _Program:
    config: TrainConfig
    spec: domains.DomainSpec
    environment: domains.Environment
    actor: nn.Module
    critic: nn.Module


def networks_of(config: TrainConfig) -> tuple[nn.Module, nn.Module]:
    """(the actor ensemble's mean heads, the value network)."""
    actor = ActorEnsemble(action_dim=config.spec.action_dim, hidden=tuple(config.actor_hidden), hidden_norms=False)
    return actor, critics.CentralCritic(hidden=tuple(config.critic_hidden))


def init_learner(key: chex.PRNGKey, config: TrainConfig, hparams: HyperParams | None = None) -> LearnerState:
    spec = config.spec
    actor, critic = networks_of(config)
    k_actor, k_critic = jax.random.split(key)
    obs = jnp.zeros((spec.n_agents, spec.obs_dim))
    actor_params = actor.init(k_actor, obs, 0.0, 0.0, 0.0)
    if not spec.discrete:
        actor_params = {"params": {**actor_params["params"], LOG_STD: jnp.zeros((spec.n_agents, spec.action_dim))}}
    critic_params = critic.init(k_critic, obs)
    actor_params, critic_params = sized(actor_params, critic_params, config, hparams)
    actor_opt_state, critic_opt_state = adam_states(actor_params, critic_params)
    return LearnerState(actor_params, actor_opt_state, critic_params, critic_opt_state)


def policy_mean(actor: nn.Module, actor_params, obs, hparams: HyperParams, config: TrainConfig):
    """(the head (..., N, A): μ, or a categorical policy's logits; its pre-activation z) on obs (..., N, O)."""
    dense = {"params": {k: v for k, v in actor_params["params"].items() if k != LOG_STD}}
    z = ensemble_preactivations(actor, dense, obs, hparams)
    return (jnp.tanh(z) if config.policy_mean == "tanh" else z), z


def log_prob(mean, log_std, actions) -> chex.Array:
    """Joint log-density (...) of actions (..., N, A) under N(mean, exp(log_std)²)."""
    return jnp.sum(-0.5 * jnp.square((actions - mean) * jnp.exp(-log_std)) - log_std - HALF_LOG_2PI, axis=(-2, -1))


def entropy(log_std) -> chex.Array:
    """The joint Gaussian entropy (nats) of log-stds (N, A)."""
    return jnp.sum(0.5 + HALF_LOG_2PI + log_std)


def categorical_log_prob(logits, actions) -> chex.Array:
    """Joint log-probability (...) of choices (..., N) under softmax(logits (..., N, A))."""
    chosen = jnp.take_along_axis(jax.nn.log_softmax(logits), actions[..., None], axis=-1)[..., 0]
    return jnp.sum(chosen, axis=-1)


def categorical_entropy(logits) -> chex.Array:
    """The mean over the batch of the joint entropy (nats) of softmax(logits (..., N, A))."""
    log_p = jax.nn.log_softmax(logits)
    return jnp.mean(jnp.sum(-jnp.exp(log_p) * log_p, axis=(-2, -1)))


def policy_log_prob(actor_params, head, actions, discrete: bool) -> chex.Array:
    """The joint log π(actions) of either kind of policy, its head (μ or logits) given."""
    if discrete:
        return categorical_log_prob(head, actions)
    return log_prob(head, actor_params["params"][LOG_STD], actions)


def policy_entropy(actor_params, head, discrete: bool) -> chex.Array:
    return categorical_entropy(head) if discrete else entropy(actor_params["params"][LOG_STD])


def advantages(rollout: Rollout, hparams: HyperParams) -> tuple[chex.Array, chex.Array]:
    """GAE(λ) over the rollout's time axis → (advantages, returns = advantages + V), (T, E)."""
    deltas = rollout.reward + hparams.gamma * (1.0 - rollout.terminated) * rollout.next_value - rollout.value

    def backwards(following, step):
        delta, done = step
        advantage = delta + hparams.gamma * hparams.gae_lambda * (1.0 - done) * following
        return advantage, advantage

    _, gae = jax.lax.scan(backwards, jnp.zeros_like(deltas[0]), (deltas, rollout.done), reverse=True)
    return gae, gae + rollout.value


def actor_loss(actor_params, actor, batch: Rollout, standardised, hparams: HyperParams, config: TrainConfig):
    """The clipped surrogate with the entropy bonus and the pre-activation penalty →
    (loss, (z, μ, ratio))."""
    mean, z = policy_mean(actor, actor_params, batch.obs, hparams, config)
    discrete = config.spec.discrete
    ratio = jnp.exp(policy_log_prob(actor_params, mean, batch.actions, discrete) - batch.log_prob)
    clipped = jnp.clip(ratio, 1.0 - hparams.clip_ratio, 1.0 + hparams.clip_ratio)
    surrogate = jnp.mean(jnp.minimum(ratio * standardised, clipped * standardised))
    penalty = hparams.preactivation_penalty * z.shape[-2] * jnp.mean(jnp.square(z))
    bonus = hparams.entropy_coef * policy_entropy(actor_params, mean, discrete)
    return -surrogate - bonus + penalty, (z, mean, ratio)


def value_loss(critic_params, critic, obs, returns):
    values = critic.apply(critic_params, obs)
    return jnp.mean(jnp.square(values - returns))


def update(learner: LearnerState, batch: Rollout, returns, gae, hparams: HyperParams, config: TrainConfig):
    """One minibatch step (leading axis B) of the actors and of the value network →
    (learner, metrics); gradient norms are those before any clipping."""
    actor, critic = networks_of(config)
    standardised = (gae - jnp.mean(gae)) / (jnp.std(gae) + 1e-8)
    (_, (z, mean, ratio)), actor_grads = jax.value_and_grad(actor_loss, has_aux=True)(
        learner.actor_params, actor, batch, standardised, hparams, config
    )
    actor_params, actor_opt_state = actor_step(
        learner.actor_params, learner.actor_opt_state, clip_per_agent(actor_grads, hparams.actor_grad_clip), hparams
    )
    loss, critic_grads = jax.value_and_grad(value_loss)(learner.critic_params, critic, batch.obs, returns)
    updates, critic_opt_state = adam(hparams.critic_lr).update(
        clip_global(critic_grads, hparams.critic_grad_clip), learner.critic_opt_state, learner.critic_params
    )
    critic_params = optax.apply_updates(learner.critic_params, updates)
    metrics = {
        "critic_loss": loss,
        **diagnostics.actor_gradient_metrics(actor_grads),
        **critics.critic_gradient_metrics(critic_grads),
        "actor_max_delta": diagnostics.max_abs_change_per_agent(learner.actor_params, actor_params),
        "critic_max_delta": diagnostics.max_abs_change(learner.critic_params, critic_params),
        **_output_stats(z, mean, config.spec.discrete),
        "entropy": policy_entropy(learner.actor_params, mean, config.spec.discrete),
        "approx_kl": jnp.mean((ratio - 1.0) - jnp.log(ratio)),
        "clip_fraction": jnp.mean(jnp.abs(ratio - 1.0) > hparams.clip_ratio),
    }
    metrics["grad_ratio"] = diagnostics.gradient_ratio(metrics["actor_grad_norm"], metrics["critic_grad_norm"])
    new = LearnerState(actor_params, actor_opt_state, critic_params, critic_opt_state)
    return new, metric_schema.checked(metric_schema.PPO, metrics, "update")


def _output_stats(z, head, discrete: bool) -> dict:
    """The pre-activation and output instruments: of μ, or of a categorical policy's probabilities."""
    if not discrete:
        return diagnostics.preactivation_stats(z, head)
    probabilities = jax.nn.softmax(head)
    stats = diagnostics.preactivation_stats(z, probabilities)
    stats["saturation"] = jnp.mean(jnp.max(probabilities, axis=-1) > diagnostics.SATURATION_LEVEL)
    return stats


def make_trainer(config: TrainConfig) -> Trainer:
    """The training program of PPO in a foreign domain."""
    actor, critic = networks_of(config)
    program = _Program(config, config.spec, domains.environment(config.domain), actor, critic)

    def act(learner: LearnerState, obs, hparams):  # the mean, clipped as the environment takes it; or the likeliest
        return _greedy(policy_mean(actor, learner.actor_params, obs, hparams, config)[0], config.spec.discrete)

    def evaluate(state: TrainState, hparams):
        return {"eval_reward": _evaluate(program, state, hparams)}

    return assemble_trainer(
        functools.partial(_init, program), functools.partial(_run_episode, program), act, evaluate, config
    )


def _greedy(head, discrete: bool):
    return jnp.argmax(head, axis=-1) if discrete else jnp.clip(head, -1.0, 1.0)


def _sample(actor_params, head, key, discrete: bool):
    """Actions drawn from the policy: choices (..., N), or unclipped Gaussian samples (..., N, A)."""
    if discrete:
        return jax.random.categorical(key, head)
    return head + jnp.exp(actor_params["params"][LOG_STD]) * jax.random.normal(key, head.shape)


def _init(program: _Program, key: chex.PRNGKey, hparams: HyperParams) -> TrainState:
    k_params, k_eval, k_run = jax.random.split(key, 3)
    tracker = diagnostics.init_stop_tracker(program.spec.n_agents, program.config.episodes_before_train)
    return TrainState(init_learner(k_params, program.config, hparams), tracker, k_run, k_eval)


def _rollout(program: _Program, learner: LearnerState, key, hparams, envs: int, greedy: bool):
    """``envs`` environments from a reset for one episode's steps → (Rollout (T, E, ...),
    each environment's return of the episode begun at the reset (E,))."""
    spec, environment = program.spec, program.environment
    k_reset, k_steps = jax.random.split(key)
    obs, env_state = jax.vmap(environment.reset)(jax.random.split(k_reset, envs))
    discrete = spec.discrete

    def one_step(carry, key):
        obs, env_state, running, returns = carry
        k_act, k_env = jax.random.split(key)
        mean, _ = policy_mean(program.actor, learner.actor_params, obs, hparams, program.config)
        actions = _greedy(mean, discrete) if greedy else _sample(learner.actor_params, mean, k_act, discrete)
        taken = actions if discrete else jnp.clip(actions, -1.0, 1.0)
        step = jax.vmap(environment.step)(jax.random.split(k_env, envs), env_state, taken)
        returns = returns + jnp.where(running, step.reward, 0.0)
        record = Rollout(
            obs=obs,
            actions=actions,
            log_prob=policy_log_prob(learner.actor_params, mean, actions, discrete),
            value=program.critic.apply(learner.critic_params, obs),
            reward=step.reward,
            next_value=program.critic.apply(learner.critic_params, step.next_obs),
            terminated=step.terminated.astype(jnp.float32),
            done=step.done.astype(jnp.float32),
        )
        return (step.obs, step.state, running & ~step.done, returns), record

    start = (obs, env_state, jnp.ones(envs, bool), jnp.zeros(envs))
    (*_, returns), rollout = jax.lax.scan(one_step, start, jax.random.split(k_steps, spec.steps_per_episode))
    return rollout, returns


def _learn(program: _Program, learner: LearnerState, rollout: Rollout, key, hparams):
    """``update_epochs`` shuffled passes over the rollout → (learner, the last minibatch's
    metrics with the largest weight changes of all)."""
    config = program.config
    gae, returns = advantages(rollout, hparams)
    flat = jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), (rollout, returns, gae))
    samples = flat[1].shape[0]

    def one_epoch(learner, key):
        order = jax.random.permutation(key, samples).reshape(config.minibatches, -1)

        def one_minibatch(learner, indices):
            batch, batch_returns, batch_gae = jax.tree.map(lambda x: x[indices], flat)
            return update(learner, batch, batch_returns, batch_gae, hparams, config)

        return jax.lax.scan(one_minibatch, learner, order)

    learner, per_step = jax.lax.scan(one_epoch, learner, jax.random.split(key, config.update_epochs))
    metrics = jax.tree.map(lambda values: values[-1, -1], per_step)
    for name in ("actor_max_delta", "critic_max_delta"):
        metrics[name] = jnp.max(per_step[name], axis=(0, 1))
    return learner, metrics


def _evaluate(program: _Program, state: TrainState, hparams: HyperParams):
    """The mean return of the fixed greedy episodes of ``state.eval_key``."""
    episodes = program.config.eval_episodes
    return jnp.mean(_rollout(program, state.learner, state.eval_key, hparams, episodes, greedy=True)[1])


def _run_episode(program: _Program, state: TrainState, clock: EpisodeClock, hparams: HyperParams):
    config = program.config
    key, k_rollout, k_learn = jax.random.split(state.key, 3)
    rollout, returns = _rollout(program, state.learner, k_rollout, hparams, config.rollout_envs, greedy=False)
    learn, shapes = traced_once(functools.partial(_learn, program), state.learner, rollout, k_learn, hparams)
    skipped = nan_like(shapes[1])
    learner, update_metrics = jax.lax.cond(
        clock.trains, learn, lambda learner, *_: (learner, skipped), state.learner, rollout, k_learn, hparams
    )
    tracker = jax.lax.cond(
        clock.trains,
        lambda: diagnostics.update_stop_tracker(
            state.tracker, clock.number, update_metrics["actor_max_delta"], update_metrics["critic_max_delta"]
        ),
        lambda: state.tracker,
    )
    state = state.replace(learner=learner, tracker=tracker, key=key)
    eval_reward = jax.lax.cond(
        clock.evaluates, lambda: _evaluate(program, state, hparams), lambda: jnp.float32(jnp.nan)
    )
    metrics = {"train_reward": jnp.mean(returns), "trained": clock.trains, "eval_reward": eval_reward, **update_metrics}
    return state, metric_schema.checked(metric_schema.PPO, metrics)
