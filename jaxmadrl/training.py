"""The training program: episodes as a ``lax.scan``, one train step after each episode.

``make_trainer(config)`` returns pure functions of explicit state:
- ``init(key, hparams) → TrainState``: parameters, world, empty replay, stop tracker;
- ``run_episode(state, episode, hparams) → (state, metrics)``: act for one episode, then
  (once more than ``episodes_before_train`` episodes are done) one train step, then (every
  ``eval_every`` episodes) greedy evaluation. ``episode`` (0-based) is passed in rather
  than read from the state, so it stays unbatched when configurations are vmapped and the
  ``lax.cond``s on it remain real branches;
- ``run_episodes(state, episodes, hparams) → (state, metrics)``: a scan of ``run_episode``
  over the given episode indices (a chunk of a longer run); indices ≥ ``config.episodes``
  are padding: they leave the state as it is and give NaN metrics, so chunks of one
  length serve any run length with one compilation;
- ``train(key, hparams) → (state, metrics)``: ``init`` then ``run_episodes`` over all.
Each traces its matrix products at ``config.matmul_precision``.
Metrics are fixed-size per episode; a quantity not computed in an episode is NaN.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
from flax import struct

from jaxmadrl import diagnostics, env, numerics, replay, rollout
from jaxmadrl.config import HyperParams, TrainConfig
from jaxmadrl.learner import LearnerState, Transition, init_learner, observe_episode, train_step
from jaxmadrl.networks import Networks, make_networks


@struct.dataclass
class TrainState:
    """Everything one configuration carries from episode to episode."""

    learner: LearnerState
    memory: replay.ReplayBuffer
    world: env.World
    tracker: diagnostics.StopTracker
    key: chex.PRNGKey
    eval_key: chex.PRNGKey  # fixed: every evaluation replays the same episodes


class Trainer(NamedTuple):
    init: Callable
    run_episode: Callable
    run_episodes: Callable
    train: Callable


def nan_like(tree):
    """NaN (False for booleans) in the shapes and dtypes of ``tree``."""
    return jax.tree.map(
        lambda x: jnp.full(x.shape, jnp.nan if jnp.issubdtype(x.dtype, jnp.floating) else 0, x.dtype), tree
    )


def networks_of(config: TrainConfig) -> Networks:
    """The actor ensemble and critic of the program ``config`` fixes."""
    return make_networks(
        config.env.n_agents, config.actor_hidden, config.critic_hidden, hidden_norms=config.hidden_norm_layers
    )


def make_trainer(config: TrainConfig) -> Trainer:
    networks = networks_of(config)
    n_agents, env_params = config.env.n_agents, config.env

    def init(key: chex.PRNGKey, hparams: HyperParams) -> TrainState:
        k_params, k_world, k_eval, k_run = jax.random.split(key, 4)
        example = Transition(
            obs=jnp.zeros((n_agents, env.OBS_DIM)),
            actions=jnp.zeros((n_agents, env.ACTION_DIM)),
            selected=jnp.zeros((n_agents,)),
            reward=jnp.zeros(()),
            next_obs=jnp.zeros((n_agents, env.OBS_DIM)),
            done=jnp.zeros(()),
        )
        return TrainState(
            learner=init_learner(k_params, networks, n_agents, hparams.full_normalisation),
            memory=replay.init_replay(example, config.replay_capacity),
            world=env.make_world(k_world, env_params),
            tracker=diagnostics.init_stop_tracker(n_agents, config.episodes_before_train),
            key=k_run,
            eval_key=k_eval,
        )

    def learn(state: TrainState, key, episode_number, hparams):
        memory, batch, indices, weights = replay.sample(state.memory, key, config.batch_size)
        learner, errors, metrics = train_step(state.learner, batch, weights, hparams, networks, config)
        memory = replay.update_priorities(memory, indices, errors)
        tracker = diagnostics.update_stop_tracker(
            state.tracker, episode_number, metrics["actor_max_delta"], metrics["critic_max_delta"]
        )
        return state.replace(learner=learner, memory=memory, tracker=tracker), metrics

    def evaluate(state: TrainState, hparams: HyperParams):
        return rollout.evaluate(state.eval_key, state.world, state.learner, networks, config, hparams)

    def run_episode(state: TrainState, episode: chex.Array, hparams: HyperParams):
        key, k_episode, k_sample = jax.random.split(state.key, 3)
        epsilon = config.epsilon(episode)
        memory, learner, summary = explore_episode(
            k_episode, state.world, state.learner, state.memory, networks, config, hparams, epsilon
        )
        state = state.replace(memory=memory, learner=learner, key=key)

        episode_number = episode + 1  # episodes completed, counting this one
        trains = episode_number > config.episodes_before_train
        skip_metrics = nan_like(jax.eval_shape(learn, state, k_sample, episode_number, hparams)[1])
        state, train_metrics = jax.lax.cond(
            trains, learn, lambda s, *_: (s, skip_metrics), state, k_sample, episode_number, hparams
        )

        eval_summary = jax.lax.cond(
            evaluates(config, episode_number),
            evaluate,
            lambda s, h: nan_like(jax.eval_shape(evaluate, s, h)),
            state,
            hparams,
        )

        metrics = {
            "train_reward": summary["reward"],
            "server_overflow": summary["server_overflow"],
            "energy_violation": summary["energy_violation"],
            "time_violation": summary["time_violation"],
            "epsilon": epsilon,
            "trained": trains,
            **{f"eval_{name}": value for name, value in eval_summary.items()},
            **train_metrics,
        }
        return state, metrics

    return assemble_trainer(init, run_episode, config)


def assemble_trainer(init: Callable, run_episode: Callable, config: TrainConfig) -> Trainer:
    """The ``Trainer`` of a program from its ``init`` and ``run_episode``: ``run_episodes``
    scans ``run_episode`` (``scan_episodes``), ``train`` runs every episode from ``init``;
    each is traced at ``config.matmul_precision``."""

    def run_episodes(state, episodes: chex.Array, hparams: HyperParams):
        return scan_episodes(run_episode, state, episodes, hparams, config.episodes)

    def train(key: chex.PRNGKey, hparams: HyperParams):
        return run_episodes(init(key, hparams), jnp.arange(config.episodes, dtype=jnp.int32), hparams)

    return Trainer(
        *(
            numerics.with_matmul_precision(function, config.matmul_precision)
            for function in (init, run_episode, run_episodes, train)
        )
    )


def evaluates(config: TrainConfig, episode_number: chex.Array) -> chex.Array:
    """Whether greedy evaluation follows the ``episode_number``-th (1-based) episode: every
    ``eval_every`` episodes and after the last."""
    return (episode_number % config.eval_every == 0) | (episode_number == config.episodes)


def explore_episode(
    key: chex.PRNGKey,
    world: env.World,
    learner: LearnerState,
    memory: replay.ReplayBuffer,
    networks: Networks,
    config: TrainConfig,
    hparams: HyperParams,
    epsilon: chex.Array,
):
    """One exploring episode, its steps stored in the replay memory with the current critic's
    squared errors as priorities. Returns (memory, learner with updated reward statistics,
    episode summary)."""
    transitions, (joint, q), input_stats, summary = rollout.training_episode(
        key, world, learner, networks, config.env, hparams, epsilon
    )
    learner = learner.replace(actor_input_stats=input_stats)
    learner, errors = observe_episode(learner, networks, transitions, joint, q, hparams)
    return replay.add_batch(memory, transitions, errors), learner, summary


def scan_episodes(run_episode: Callable, state, episodes: chex.Array, hparams, total_episodes: int):
    """``lax.scan`` of ``run_episode(state, episode, hparams)`` over ``episodes`` (unbatched
    int32). Indices ≥ ``total_episodes`` are padding: state unchanged, NaN metrics."""

    def run_or_pad(state, episode):
        pad_metrics = nan_like(jax.eval_shape(run_episode, state, episode, hparams)[1])
        return jax.lax.cond(
            episode < total_episodes, run_episode, lambda s, *_: (s, pad_metrics), state, episode, hparams
        )

    return jax.lax.scan(run_or_pad, state, episodes)


def seed_key(seed) -> chex.PRNGKey:
    """The run key of a seed (the same in the train and sweep programs)."""
    return jax.random.fold_in(jax.random.key(0), seed)
