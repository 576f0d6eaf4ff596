"""Acting: actors propose, the master selects, the environment steps.

A training episode explores (noise on the actions, ε-random selection) and returns its
steps; a greedy evaluation episode adds no noise and never explores.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from jaxmadrl.agents.ccm.learner import LearnerState, Transition
from jaxmadrl.agents.ccm.losses import actor_outputs, critic_rows, sampled_actions
from jaxmadrl.agents.ccm.selection import select_offloading
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.networks import Networks
from jaxmadrl.agents.normalisation import update_input_stats
from jaxmadrl.envs import mec as env


def act_and_step(
    key: chex.PRNGKey,
    env_state: env.EnvState,
    obs: chex.Array,
    learner: LearnerState,
    networks: Networks,
    env_params: env.EnvParams,
    hparams: HyperParams,
    epsilon: chex.Array,
    explore: bool,
):
    """One step: actor outputs (+ N(0, ε²) noise when exploring; stochastic actors explore
    by a sample of their policies instead), selection, env step.

    Returns (next_obs (N, 7), next env state, transition, step info dict, (joint, q) of the
    current critic on (obs, actions) — the master's values, reused for the replay error).
    """
    k_noise, k_select, k_env = jax.random.split(key, 3)
    actions, _ = actor_outputs(networks, learner.actor_params, obs, learner.actor_input_stats, hparams)
    if explore and networks.stochastic:
        actions = sampled_actions(
            networks, learner.actor_params, obs, learner.actor_input_stats, hparams, k_noise
        ).actions
    elif explore:
        noise = epsilon * jax.random.normal(k_noise, actions.shape)
        actions = jnp.clip(actions + noise, -1.0, 1.0)
    joint, q = critic_rows(networks, learner.critic_params, obs, actions, hparams.full_normalisation)
    selection = select_offloading(
        k_select, actions, q, env_state.size_mb, epsilon, explore, env_params.max_accepted, env_params.server_storage_mb
    )
    env_action = env.to_env_action(selection.selected, actions)
    next_obs, next_state, reward, done, info = env.step(k_env, env_state, env_action, env_params)
    transition = Transition(
        obs=obs,
        actions=actions,
        selected=selection.selected,
        reward=reward,
        next_obs=next_obs,
        done=done.astype(jnp.float32),
    )
    step_info = {
        "reward": reward,
        "server_overflow": selection.constraint_exceeded.astype(jnp.float32),
        "energy_violation": info["energy_violation"],
        "time_violation": info["time_violation"],
    }
    return next_obs, next_state, transition, step_info, (joint, q)


def training_episode(
    key: chex.PRNGKey,
    world: env.World,
    learner: LearnerState,
    networks: Networks,
    env_params: env.EnvParams,
    hparams: HyperParams,
    epsilon: chex.Array,
):
    """Runs one exploring episode of T = ``env_params.steps_per_episode`` steps.

    Each step's observation first updates the actors' input statistics (a batch of one
    sample per actor), which that step's actors then normalise by, as the running
    normalisation of the reference's acting does.

    Returns (transitions with leading axis T, the master's values (joint (T, H1), q (T, N))
    on each step's (obs, actions), the actors' input statistics after the episode, episode
    summary); what the learner makes of the steps is ``learner.observe_episode``'s.
    """
    k_reset, k_steps = jax.random.split(key)
    obs, env_state = env.reset(k_reset, world, env_params)

    def one_step(carry, step_key):
        env_state, obs, input_stats = carry
        input_stats = update_input_stats(input_stats, obs[None])
        next_obs, env_state, transition, step_info, critic_values = act_and_step(
            step_key,
            env_state,
            obs,
            learner.replace(actor_input_stats=input_stats),
            networks,
            env_params,
            hparams,
            epsilon,
            explore=True,
        )
        return (env_state, next_obs, input_stats), (transition, step_info, critic_values)

    (_, _, input_stats), (transitions, step_infos, critic_values) = jax.lax.scan(
        one_step, (env_state, obs, learner.actor_input_stats), jax.random.split(k_steps, env_params.steps_per_episode)
    )
    return transitions, critic_values, input_stats, env.episode_summary(step_infos)


def greedy_episode(
    key: chex.PRNGKey,
    world: env.World,
    learner: LearnerState,
    networks: Networks,
    env_params: env.EnvParams,
    hparams: HyperParams,
) -> dict[str, chex.Array]:
    """Runs one evaluation episode: no noise, no exploration, nothing stored or updated
    (the actors' input statistics included)."""
    k_reset, k_steps = jax.random.split(key)
    obs, env_state = env.reset(k_reset, world, env_params)
    no_exploration = jnp.float32(0.0)

    def one_step(carry, step_key):
        env_state, obs = carry
        next_obs, env_state, _, step_info, _ = act_and_step(
            step_key, env_state, obs, learner, networks, env_params, hparams, no_exploration, explore=False
        )
        return (env_state, next_obs), step_info

    _, step_infos = jax.lax.scan(one_step, (env_state, obs), jax.random.split(k_steps, env_params.steps_per_episode))
    return env.episode_summary(step_infos)


def evaluate(
    eval_key: chex.PRNGKey,
    world: env.World,
    learner: LearnerState,
    networks: Networks,
    config: TrainConfig,
    hparams: HyperParams,
) -> dict[str, chex.Array]:
    """Mean over ``config.eval_episodes`` fixed greedy episodes (fixed by ``eval_key``)."""
    keys = jax.random.split(eval_key, config.eval_episodes)
    summaries = jax.vmap(greedy_episode, in_axes=(0, None, None, None, None, None))(
        keys, world, learner, networks, config.env, hparams
    )
    return jax.tree.map(jnp.mean, summaries)
