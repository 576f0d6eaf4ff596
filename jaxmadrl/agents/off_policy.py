"""The training program of the replay learners outside MEC (DDPG, TD3, SAC): acting in an
environment of ``envs.domains``, storing transitions, one update per step, evaluation and
the weight-change tracker. A learner brings only its ``Algorithm``: its parameters, its
update and how it acts.

One episode is ``spec.steps_per_episode`` environment steps from a reset. Every step acts —
uniformly at random in the first ``episodes_before_train`` episodes, afterwards by the
learner's exploring policy: the actors' outputs plus noise of scale
``config.epsilon(episode)`` (``config.exploration``: independent Gaussian, or an
Ornstein-Uhlenbeck process started at 0 with each program episode), clipped to [-1, 1], or,
for a stochastic actor, a sample of its policy — stores the transition and, after those
episodes, makes one update from a uniform batch. An episode's metrics are those of its last
update, except ``actor_max_delta`` (N,) and ``critic_max_delta``: the largest change any of
its updates made, so that "unchanged" in the stop tracker means that no update of the
episode changed a weight. ``train_reward`` is the return of the episode begun at the reset
(an environment that ends early starts another within the same steps, whose transitions are
learned from).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import chex
import jax
import jax.numpy as jnp
from flax import struct

from jaxmadrl.agents import diagnostics, metric_schema, replay
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.scaffold import EpisodeClock, Trainer, assemble_trainer, nan_like, traced_once
from jaxmadrl.envs import domains

# Ornstein-Uhlenbeck exploration (``config.exploration == "ou"``), as DDPG's authors used it
OU_THETA = 0.15
OU_DT = 0.01


@struct.dataclass
class Transition:
    """One step as stored: obs, next_obs (N, O); actions (N, A) in [-1, 1] as taken;
    reward and terminated (0/1) float32 scalars."""

    obs: chex.Array
    actions: chex.Array
    reward: chex.Array
    next_obs: chex.Array
    terminated: chex.Array


@struct.dataclass
class TrainState:
    learner: chex.ArrayTree  # the algorithm's parameters and optimiser states
    memory: replay.ReplayBuffer
    tracker: diagnostics.StopTracker
    key: chex.PRNGKey
    eval_key: chex.PRNGKey  # fixed: every evaluation plays the same episodes


@dataclasses.dataclass(frozen=True)
class Algorithm:
    """What makes a replay learner itself (all pure; ``config`` is static).

    ``init_learner(key, config, hparams)`` → its learner state; ``update(learner, batch,
    key, hparams, config)`` → (learner, the schema's update metrics of
    ``config.learner_name``);
    ``actions(learner, obs (N, O), key, hparams, config)`` → actions (N, A) in [-1, 1]:
    its policy's mean (key None) or, for a stochastic actor (``stochastic``), a sample.
    A deterministic actor explores by added noise."""

    init_learner: Callable
    update: Callable
    actions: Callable
    stochastic: bool = False


def next_noise(exploration: str, noise: chex.Array, shock: chex.Array, scale: chex.Numeric) -> chex.Array:
    """The exploration noise of the next step from the last one and a standard normal
    shock (same shapes): Ornstein-Uhlenbeck x' = x − θ·x·dt + σ·√dt·ε with σ = ``scale``,
    or independent Gaussian σ·ε."""
    if exploration == "ou":
        return noise - OU_THETA * noise * OU_DT + scale * jnp.sqrt(OU_DT) * shock
    return scale * shock


def soft_update(target, online, tau: float):
    return jax.tree.map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


@dataclasses.dataclass(frozen=True)
class _Program:
    """What the functions of one training program share: its config, its domain's shape
    and environment, and its algorithm."""

    config: TrainConfig
    spec: domains.DomainSpec
    environment: domains.Environment
    algorithm: Algorithm

    @property
    def action_shape(self) -> tuple[int, int]:
        return (self.spec.n_agents, self.spec.action_dim)


def make_trainer(config: TrainConfig, algorithm: Algorithm) -> Trainer:
    """The training program of ``algorithm`` in a foreign domain, with the interface of
    ``ccm.training.make_trainer``."""
    program = _Program(config, config.spec, domains.environment(config.domain), algorithm)
    return assemble_trainer(
        functools.partial(_init, program),
        functools.partial(_run_episode, program),
        lambda learner, obs, hparams: algorithm.actions(learner, obs, None, hparams, config),
        lambda state, hparams: {"eval_reward": _evaluate(program, state, hparams)},
        config,
    )


def _init(program: _Program, key: chex.PRNGKey, hparams: HyperParams) -> TrainState:
    config, spec = program.config, program.spec
    k_params, k_eval, k_run = jax.random.split(key, 3)
    obs = jnp.zeros((spec.n_agents, spec.obs_dim))
    example = Transition(obs, jnp.zeros(program.action_shape), jnp.float32(0), obs, jnp.float32(0))
    return TrainState(
        learner=program.algorithm.init_learner(k_params, config, hparams),
        memory=replay.init_replay(example, config.replay_capacity),
        tracker=diagnostics.init_stop_tracker(spec.n_agents, config.episodes_before_train),
        key=k_run,
        eval_key=k_eval,
    )


def _act(program: _Program, learner, obs, key, hparams, policy: str, noise, noise_std):
    """→ (actions (N, A) in [-1, 1], the exploration noise carried to the next step)."""
    algorithm, config = program.algorithm, program.config
    if policy == "random":
        return jax.random.uniform(key, program.action_shape, minval=-1.0, maxval=1.0), noise
    if policy == "greedy":
        return algorithm.actions(learner, obs, None, hparams, config), noise
    if algorithm.stochastic:
        return algorithm.actions(learner, obs, key, hparams, config), noise
    actions = algorithm.actions(learner, obs, None, hparams, config)
    noise = next_noise(config.exploration, noise, jax.random.normal(key, program.action_shape), noise_std)
    return jnp.clip(actions + noise, -1.0, 1.0), noise


def _play(program: _Program, key, learner, memory, hparams, policy: str, learns: bool, noise_std=0.0):
    """One episode → (learner, memory, return of the episode begun at the reset,
    per-update metrics (T, ...) or None). ``memory`` None: nothing stored."""
    config, environment = program.config, program.environment
    k_reset, k_steps = jax.random.split(key)
    obs, env_state = environment.reset(k_reset)

    def one_step(carry, key):
        learner, memory, obs, env_state, noise, running, episode_return = carry
        k_act, k_env, k_batch = jax.random.split(key, 3)
        actions, noise = _act(program, learner, obs, k_act, hparams, policy, noise, noise_std)
        step = environment.step(k_env, env_state, actions)
        episode_return = episode_return + jnp.where(running, step.reward, 0.0)
        running = running & ~step.done
        metrics = None
        if memory is not None:
            stored = Transition(obs, actions, step.reward, step.next_obs, step.terminated.astype(jnp.float32))
            memory = replay.add(memory, stored, jnp.float32(0))
        if learns:
            batch = replay.sample_uniform(memory, k_batch, config.batch_size)
            k_update = jax.random.fold_in(k_batch, 1)  # unused by a learner without noise in its update
            learner, metrics = program.algorithm.update(learner, batch, k_update, hparams, config)
        return (learner, memory, step.obs, step.state, noise, running, episode_return), metrics

    start = (learner, memory, obs, env_state, jnp.zeros(program.action_shape), jnp.bool_(True), jnp.float32(0))
    (learner, memory, *_, episode_return), metrics = jax.lax.scan(
        one_step, start, jax.random.split(k_steps, program.spec.steps_per_episode)
    )
    return learner, memory, episode_return, metrics


def _learning_episode(program: _Program, state: TrainState, key, episode_number, hparams, noise_std):
    learner, memory, episode_return, per_update = _play(
        program, key, state.learner, state.memory, hparams, "noisy", True, noise_std
    )
    metrics = jax.tree.map(lambda values: values[-1], per_update)
    for name in ("actor_max_delta", "critic_max_delta"):
        metrics[name] = jnp.max(per_update[name], axis=0)
    tracker = diagnostics.update_stop_tracker(
        state.tracker, episode_number, metrics["actor_max_delta"], metrics["critic_max_delta"]
    )
    return state.replace(learner=learner, memory=memory, tracker=tracker), episode_return, metrics


def _random_episode(program: _Program, skipped_metrics, state: TrainState, key, episode_number, hparams, noise_std):
    _, memory, episode_return, _ = _play(program, key, state.learner, state.memory, hparams, "random", False)
    return state.replace(memory=memory), episode_return, skipped_metrics


def _evaluate(program: _Program, state: TrainState, hparams: HyperParams):
    keys = jax.random.split(state.eval_key, program.config.eval_episodes)
    returns = jax.vmap(lambda key: _play(program, key, state.learner, None, hparams, "greedy", False)[2])(keys)
    return jnp.mean(returns)


def _run_episode(program: _Program, state: TrainState, clock: EpisodeClock, hparams: HyperParams):
    config = program.config
    key, k_episode = jax.random.split(state.key)
    state = state.replace(key=key)
    noise_std = config.epsilon(clock.episode)
    operands = (state, k_episode, clock.number, hparams, noise_std)
    learning, shapes = traced_once(functools.partial(_learning_episode, program), *operands)
    random = functools.partial(_random_episode, program, nan_like(shapes[2]))
    state, episode_return, update_metrics = jax.lax.cond(clock.trains, learning, random, *operands)
    eval_reward = jax.lax.cond(
        clock.evaluates,
        functools.partial(_evaluate, program),
        lambda *_: jnp.float32(jnp.nan),
        state,
        hparams,
    )
    metrics = {"train_reward": episode_return, "trained": clock.trains, "eval_reward": eval_reward, **update_metrics}
    if not program.algorithm.stochastic:
        metrics["epsilon"] = noise_std
    return state, metric_schema.checked(config.learner_name, metrics)
