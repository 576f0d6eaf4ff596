"""DDPG / MADDPG on other domains: TD targets and soft targets, the per-episode stop
semantics, learning on Pendulum, lanes of the grid, and the exploration noise."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from domain_configs import PENDULUM, SMALL, small_config
from programs import MANY_UPDATES_RTOL, assert_programs_agree

from jaxmadrl.agents import off_policy
from jaxmadrl.agents.ddpg import learner as ddpg
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.scaffold import episode_clock
from jaxmadrl.agents.trainers import make_train, trainer_of
from jaxmadrl.study import grid
from jaxmadrl.study.definition import SweepDefinition


def test_td_targets_soft_targets_and_update_metrics():
    config = small_config("Pendulum-v1", tau=0.25)
    hparams = HyperParams(actor_lr=1e-2, critic_lr=1e-2, gamma=0.9, reward_scale=2.0)
    learner = jax.jit(ddpg.init_learner, static_argnums=1)(jax.random.key(0), config)
    key_obs, key_actions, key_next = jax.random.split(jax.random.key(1), 3)
    batch = off_policy.Transition(
        obs=jax.random.normal(key_obs, (8, 1, 3)),
        actions=jax.random.uniform(key_actions, (8, 1, 1), minval=-1, maxval=1),
        reward=jnp.arange(8.0),
        next_obs=jax.random.normal(key_next, (8, 1, 3)),
        terminated=jnp.array([1.0, 0.0] * 4),
    )
    new, metrics = jax.jit(ddpg.update, static_argnums=4)(learner, batch, jax.random.key(2), hparams, config)

    # The loss written out: y = 2·r + 0.9·(1 − terminated)·Q'(s', tanh(actor'(s'))), in float64.
    actor, critic = (jax.jit(network.apply) for network in ddpg.networks_of(config))  # eagerly, each op compiles
    next_actions = np.tanh(np.float64(actor(learner.actor_target, jnp.moveaxis(batch.next_obs, 1, 0), 0.0, 0.0, 0.0)))
    next_q = critic(learner.critic_target, batch.next_obs, jnp.float32(np.moveaxis(next_actions, 0, 1)))
    targets = 2.0 * np.arange(8.0) + 0.9 * np.array([0.0, 1.0] * 4) * np.float64(next_q)
    q = np.float64(critic(learner.critic_params, batch.obs, batch.actions))
    np.testing.assert_allclose(metrics["critic_loss"], np.mean((q - targets) ** 2), rtol=1e-5)
    for target, old, online in (
        (new.actor_target, learner.actor_target, new.actor_params),
        (new.critic_target, learner.critic_target, new.critic_params),
    ):
        chex.assert_trees_all_close(target, jax.tree.map(lambda t, o: 0.75 * t + 0.25 * o, old, online), rtol=1e-6)
    actor_change = jax.tree.leaves(
        jax.tree.map(lambda a, b: jnp.max(jnp.abs(a - b)), new.actor_params, learner.actor_params)
    )
    np.testing.assert_allclose(metrics["actor_max_delta"], [max(actor_change)], rtol=1e-6)
    chex.assert_shape(metrics["actor_grad_norm_layers"], (2,))
    np.testing.assert_allclose(
        metrics["grad_ratio"], metrics["actor_grad_norm"] / metrics["critic_grad_norm"], rtol=1e-6
    )


@pytest.mark.program
def test_an_episode_without_change_is_one_in_which_no_weight_moved():
    """``actor_max_delta`` is the largest change over the episode's updates, so it is 0
    exactly when the actors end the episode bit-for-bit as they began it; at actor LR 0.1
    the Pendulum actor saturates and stops within a few episodes."""
    config = dataclasses.replace(PENDULUM, episodes=20, eval_every=20)
    trainer = trainer_of(config)
    hparams = HyperParams(actor_lr=0.1, critic_lr=0.1).as_arrays()
    state = jax.jit(trainer.init)(jax.random.key(0), hparams)
    run_episode = jax.jit(trainer.run_episode)
    stopped = []
    for episode in range(config.episodes):
        before = state.learner.actor_params
        state, metrics = run_episode(state, episode_clock(config, episode), hparams)
        unchanged = all(jax.tree.leaves(jax.tree.map(np.array_equal, before, state.learner.actor_params)))
        if metrics["trained"]:
            assert unchanged == (metrics["actor_max_delta"][0] == 0)
            stopped.append(unchanged)
        if unchanged and metrics["trained"]:
            break
    assert any(stopped), "the actor never stopped at actor LR 0.1"
    first = stopped.index(True) + 1 + config.episodes_before_train
    assert int(state.tracker.actor_first_unchanged[0]) == first


@pytest.mark.program
def test_pendulum_learns_and_same_seed_repeats_bit_for_bit():
    config = dataclasses.replace(PENDULUM, episodes=20, eval_every=10, eval_episodes=3)
    train = jax.jit(make_train(config))
    hparams = HyperParams(actor_lr=1e-3, critic_lr=1e-3).as_arrays()
    _, metrics = train(jax.random.key(0), hparams)
    _, again = train(jax.random.key(0), hparams)
    chex.assert_trees_all_equal(metrics, again)
    evaluations = metrics["eval_reward"][np.isfinite(metrics["eval_reward"])]
    # A random policy scores about −1200; measured here: −1489 after 10 episodes, −170 after 20.
    assert np.mean(metrics["train_reward"][:5]) < -900 and evaluations[-1] > -600, evaluations


@pytest.mark.program
def test_multi_agent_lane_equals_single_run():
    definition = SweepDefinition.from_dict(
        dict(
            name="t",
            domain="MPE_simple_spread_v3",
            actor_lrs=[1e-3, 1e-1],
            critic_lrs=[1e-2],
            seeds=1,
            episodes=4,
            chunk=4,
            variants={"baseline": {}, "layernorm": {"layer_norm": 1}},
            **{k: list(v) if isinstance(v, tuple) else v for k, v in SMALL.items()},
            eval_every=2,
            eval_episodes=1,
        )
    )
    program = grid.make_grid(definition.train_config())
    hparams, keys = definition.hyperparams(), definition.lane_keys()
    states, metrics = jax.jit(program.run_chunk)(
        jax.jit(program.init)(keys, hparams), episode_clock(definition.train, jnp.arange(4)), hparams
    )
    chex.assert_shape(metrics["actor_max_delta"], (4, 4, 3))
    chex.assert_shape(states.tracker.actor_first_unchanged, (4, 3))
    train = jax.jit(make_train(definition.train_config()))
    # Baseline at actor LR 1e-3, LayerNorm at 0.1. (A saturating tanh actor's gradient, ~3e-9 at
    # actor LR 0.1 here, is a sum of nearly cancelling terms whose rounding differs by ~1%.)
    for lane in (0, 3):
        _, variant, actor_lr, critic_lr = definition.lanes()[lane]
        single_hparams = definition.variant_hyperparams(variant).replace(actor_lr=actor_lr, critic_lr=critic_lr)
        _, single = train(keys[lane], single_hparams.as_arrays())
        lane_metrics = {name: values[:, lane] for name, values in metrics.items()}
        assert_programs_agree(lane_metrics, single, rtol=MANY_UPDATES_RTOL)


def test_exploration_noise_formulas():
    noise, shock = jnp.array([[0.5, -1.0]]), jnp.array([[1.0, 2.0]])
    ou = 0.5 * np.sqrt(0.01) * np.array([[1.0, 2.0]]) + np.array([[0.5, -1.0]]) * (1 - 0.15 * 0.01)
    np.testing.assert_allclose(off_policy.next_noise("ou", noise, shock, 0.5), ou, rtol=1e-6)
    np.testing.assert_allclose(off_policy.next_noise("gaussian", noise, shock, 0.5), [[0.5, 1.0]])


@pytest.mark.program
def test_ou_exploration_is_correlated_and_gaussian_is_not():
    """The noise added to a greedy action: Ornstein-Uhlenbeck steps follow
    x' = x − θ·x·dt + σ·√dt·ε from x = 0; Gaussian steps are σ·ε, independent."""
    for exploration in ("ou", "gaussian"):
        config = small_config(
            "MountainCarContinuous-v0",
            exploration=exploration,
            epsilon_start=0.5,
            epsilon_end=0.5,
            replay_capacity=2000,
        )
        trainer = trainer_of(config)
        hparams = HyperParams(actor_lr=1e-3, critic_lr=1e-3).as_arrays()
        state = trainer.init(jax.random.key(0), hparams)
        # episode 1 trains (episodes_before_train=1) and acts with noise; its stored actions
        state, _ = jax.jit(trainer.run_episode)(state, episode_clock(config, 0), hparams)
        start = int(state.memory.position)
        state, _ = jax.jit(trainer.run_episode)(state, episode_clock(config, 1), hparams)
        actions = np.asarray(state.memory.items.actions[start : start + 200, 0, 0])
        lag_one = np.corrcoef(actions[:-1], actions[1:])[0, 1]
        assert lag_one > 0.9 if exploration == "ou" else abs(lag_one) < 0.3, (exploration, lag_one)
