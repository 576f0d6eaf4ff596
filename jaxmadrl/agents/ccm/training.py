"""The training program: episodes as a ``lax.scan``, one train step after each episode.

``make_trainer(config)`` returns pure functions of explicit state:
- ``init(key, hparams) → TrainState``: parameters, world, empty replay, stop tracker;
- ``run_episode(state, clock, hparams) → (state, metrics)``: act for one episode, then
  (when ``clock.trains``: more than ``episodes_before_train`` episodes done) one train step,
  then (when ``clock.evaluates``) greedy evaluation. The ``scaffold.EpisodeClock`` is passed
  in rather than read from the state, so it stays unbatched when configurations are vmapped
  and the ``lax.cond``s on it remain real branches;
- ``run_episodes(state, clocks, hparams) → (state, metrics)``: a scan of ``run_episode``
  over a chunk of a longer run; inactive episodes (past the run's end) are padding: they
  leave the state as it is and give NaN metrics, so one compiled chunk serves any run;
- ``train(key, hparams) → (state, metrics)``: ``init`` then ``run_episodes`` over all.
Each traces its matrix products at ``config.matmul_precision``.
Metrics are fixed-size per episode; a quantity not computed in an episode is NaN.
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
from flax import struct

from jaxmadrl.agents import diagnostics, metric_schema, replay
from jaxmadrl.agents.ccm import rollout
from jaxmadrl.agents.ccm.learner import LearnerState, Transition, init_learner, observe_episode, train_step
from jaxmadrl.agents.ccm.losses import actor_outputs
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.networks import Networks
from jaxmadrl.agents.scaffold import EpisodeClock, Trainer, assemble_trainer, nan_like, networks_of, traced_once
from jaxmadrl.envs import mec as env


@struct.dataclass
class TrainState:
    """Everything one configuration carries from episode to episode."""

    learner: LearnerState
    memory: replay.ReplayBuffer
    world: env.World
    tracker: diagnostics.StopTracker
    key: chex.PRNGKey
    eval_key: chex.PRNGKey  # fixed: every evaluation replays the same episodes


def make_trainer(config: TrainConfig) -> Trainer:
    networks = networks_of(config)

    def act(learner: LearnerState, obs, hparams):  # the clients' proposals, before the master's selection
        return actor_outputs(networks, learner.actor_params, obs, learner.actor_input_stats, hparams)[0]

    def evaluate(state: TrainState, hparams):
        return {f"eval_{name}": value for name, value in _evaluate(networks, config, state, hparams).items()}

    return assemble_trainer(
        functools.partial(_init, networks, config),
        functools.partial(_run_episode, networks, config),
        act,
        evaluate,
        config,
    )


def _split_run_key(key: chex.PRNGKey) -> tuple[chex.PRNGKey, ...]:
    """A lane's run key → (parameters, world, evaluation episodes, the run's own) keys."""
    return tuple(jax.random.split(key, 4))


def world_and_eval_key(key: chex.PRNGKey, env_params: env.EnvParams) -> tuple[env.World, chex.PRNGKey]:
    """The world a lane with run key ``key`` trains on and the key of its evaluation
    episodes, without building the rest of its state (the heuristics are run on them)."""
    _, k_world, k_eval, _ = _split_run_key(key)
    return env.make_world(k_world, env_params), k_eval


def _init(networks: Networks, config: TrainConfig, key: chex.PRNGKey, hparams: HyperParams) -> TrainState:
    n_agents = config.env.n_agents
    k_params, k_world, k_eval, k_run = _split_run_key(key)
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
        world=env.make_world(k_world, config.env),
        tracker=diagnostics.init_stop_tracker(n_agents, config.episodes_before_train),
        key=k_run,
        eval_key=k_eval,
    )


def _learn(networks: Networks, config: TrainConfig, state: TrainState, key, episode_number, hparams):
    """The episode's train step on a prioritised batch; priorities and stop tracker updated."""
    memory, batch, indices, weights = replay.sample(state.memory, key, config.batch_size)
    actor_key = jax.random.fold_in(key, 1) if networks.stochastic else None  # the batch's key, folded: its own
    learner, errors, metrics = train_step(state.learner, batch, weights, hparams, networks, config, actor_key)
    memory = replay.update_priorities(memory, indices, errors)
    tracker = diagnostics.update_stop_tracker(
        state.tracker, episode_number, metrics["actor_max_delta"], metrics["critic_max_delta"]
    )
    return state.replace(learner=learner, memory=memory, tracker=tracker), metrics


def _evaluate(networks: Networks, config: TrainConfig, state: TrainState, hparams: HyperParams):
    return rollout.evaluate(state.eval_key, state.world, state.learner, networks, config, hparams)


def _run_episode(networks: Networks, config: TrainConfig, state: TrainState, clock: EpisodeClock, hparams):
    learn, evaluate = functools.partial(_learn, networks, config), functools.partial(_evaluate, networks, config)
    key, k_episode, k_sample = jax.random.split(state.key, 3)
    epsilon = config.epsilon(clock.episode)
    memory, learner, summary = explore_episode(
        k_episode, state.world, state.learner, state.memory, networks, config, hparams, epsilon
    )
    state = state.replace(memory=memory, learner=learner, key=key)

    learn, learn_shapes = traced_once(learn, state, k_sample, clock.number, hparams)
    skip_metrics = nan_like(learn_shapes[1])
    state, train_metrics = jax.lax.cond(
        clock.trains, learn, lambda s, *_: (s, skip_metrics), state, k_sample, clock.number, hparams
    )
    evaluate, eval_shapes = traced_once(evaluate, state, hparams)
    eval_summary = jax.lax.cond(clock.evaluates, evaluate, lambda *_: nan_like(eval_shapes), state, hparams)
    metrics = {
        "train_reward": summary["reward"],
        "server_overflow": summary["server_overflow"],
        "energy_violation": summary["energy_violation"],
        "time_violation": summary["time_violation"],
        "epsilon": epsilon,
        "trained": clock.trains,
        **{f"eval_{name}": value for name, value in eval_summary.items()},
        **train_metrics,
    }
    return state, metric_schema.checked(metric_schema.CCM, metrics)


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
