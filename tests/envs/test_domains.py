"""Other domains: the environments as their packages define them, the DDPG/MADDPG program
(soft targets, the per-episode stop semantics, learning), lanes of the grid, and settings
that belong to one kind of domain only."""

import dataclasses
import importlib.abc
import sys

import chex
import gymnax
import jax
import jax.numpy as jnp
import jaxmarl
import numpy as np
import pytest
from cli_helpers import run_module
from programs import MANY_UPDATES_RTOL, assert_programs_agree

from jaxmadrl.agents import networks
from jaxmadrl.agents.config import HyperParams, TrainConfig
from jaxmadrl.agents.ddpg import learner as ddpg
from jaxmadrl.agents.trainers import make_train, make_trainer
from jaxmadrl.core.limits import SettingError
from jaxmadrl.envs import domains
from jaxmadrl.envs.mec import EnvParams
from jaxmadrl.store.runs import run_sweep
from jaxmadrl.study import lanes
from jaxmadrl.study.definition import SweepDefinition

SMALL = dict(actor_hidden=(8,), critic_hidden=(16,), batch_size=8, replay_capacity=1000, episodes_before_train=1)


# The networks and settings of sweeps/pendulum.json
PENDULUM = TrainConfig(
    domain="Pendulum-v1",
    actor_hidden=(64, 32),
    critic_hidden=(128, 128),
    batch_size=128,
    replay_capacity=4000,
    episodes_before_train=5,
    epsilon_start=0.1,
    epsilon_end=0.1,
)


def small_config(domain, **changes):
    return TrainConfig(domain=domain, **{**SMALL, "eval_every": 2, "eval_episodes": 1, **changes})


def test_specs_are_the_packages_own():
    for name, spec in domains.FOREIGN.items():
        if spec.package == "gymnax":
            env, params = gymnax.make(name)
            space, agents = env.action_space(params), 1
            assert env.observation_space(params).shape == (spec.obs_dim,)
            assert params.max_steps_in_episode == spec.steps_per_episode
        else:
            env = jaxmarl.make(name, action_type="Continuous")
            space, agents = env.action_space(env.agents[0]), env.num_agents
            assert env.observation_space(env.agents[0]).shape == (spec.obs_dim,)
            assert env.max_steps + 1 == spec.steps_per_episode  # done comes with the step after max_steps
        assert agents == spec.n_agents and space.shape == (spec.action_dim,)
        np.testing.assert_array_equal([space.low, space.high], np.float32([spec.action_low, spec.action_high]))


def test_actions_map_onto_the_bounds():
    spec = domains.FOREIGN["MPE_simple_spread_v3"]
    np.testing.assert_array_equal(domains.to_bounds(spec, jnp.array([-1.0, 0.0, 1.0])), [0.0, 0.5, 1.0])
    spec = domains.FOREIGN["Pendulum-v1"]
    np.testing.assert_array_equal(domains.to_bounds(spec, jnp.array([-1.0, 0.5, 1.0])), [-2.0, 1.0, 2.0])


@pytest.mark.parametrize("name", list(domains.FOREIGN))
def test_an_episode_ends_exactly_at_the_environments_limit(name):
    environment = domains.environment(name)
    spec = environment.spec
    obs, state = environment.reset(jax.random.key(0))
    chex.assert_shape(obs, (spec.n_agents, spec.obs_dim))

    actions = -jnp.ones((spec.n_agents, spec.action_dim))  # no environment here reaches a true end with them

    def step(carry, key):
        state, obs = carry
        out = environment.step(key, state, actions)
        return (out.state, out.obs), (out.done, out.terminated, out.next_obs, obs, state)

    (_, obs_after), (done, terminated, next_obs, before, states) = jax.lax.scan(
        step, (state, obs), jax.random.split(jax.random.key(1), spec.steps_per_episode)
    )
    np.testing.assert_array_equal(done, np.arange(spec.steps_per_episode) == spec.steps_per_episode - 1)
    assert not terminated.any()
    # the next observation of a step is where the following step started, within the episode
    np.testing.assert_array_equal(next_obs[:-1], before[1:])
    if spec.package == "gymnax":
        # at the end, the step's real outcome (the package's non-resetting step), not the reset
        env, params = gymnax.make(name)
        last_state = jax.tree.map(lambda x: x[-1], states)
        outcome = env.step_env(jax.random.key(2), last_state, domains.to_bounds(spec, actions[0]), params)[0]
        np.testing.assert_array_equal(next_obs[-1, 0], outcome)
        assert not np.array_equal(obs_after[0], outcome)


def test_td_targets_soft_targets_and_update_metrics():
    config = small_config("Pendulum-v1", tau=0.25)
    hparams = HyperParams(actor_lr=1e-2, critic_lr=1e-2, gamma=0.9, reward_scale=2.0)
    learner = ddpg.init_learner(jax.random.key(0), config)
    key_obs, key_actions, key_next = jax.random.split(jax.random.key(1), 3)
    batch = ddpg.Transition(
        obs=jax.random.normal(key_obs, (8, 1, 3)),
        actions=jax.random.uniform(key_actions, (8, 1, 1), minval=-1, maxval=1),
        reward=jnp.arange(8.0),
        next_obs=jax.random.normal(key_next, (8, 1, 3)),
        terminated=jnp.array([1.0, 0.0] * 4),
    )
    new, metrics = jax.jit(ddpg.update, static_argnums=3)(learner, batch, hparams, config)

    # The loss written out: y = 2·r + 0.9·(1 − terminated)·Q'(s', tanh(actor'(s'))), in float64.
    actor, critic = ddpg.networks_of(config)
    next_actions = np.tanh(
        np.float64(actor.apply(learner.actor_target, jnp.moveaxis(batch.next_obs, 1, 0), 0.0, 0.0, 0.0))
    )
    next_q = critic.apply(learner.critic_target, batch.next_obs, jnp.float32(np.moveaxis(next_actions, 0, 1)))
    targets = 2.0 * np.arange(8.0) + 0.9 * np.array([0.0, 1.0] * 4) * np.float64(next_q)
    q = np.float64(critic.apply(learner.critic_params, batch.obs, batch.actions))
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


def test_an_episode_without_change_is_one_in_which_no_weight_moved():
    """``actor_max_delta`` is the largest change over the episode's updates, so it is 0
    exactly when the actors end the episode bit-for-bit as they began it; at actor LR 0.1
    the Pendulum actor saturates and stops within a few episodes."""
    config = dataclasses.replace(PENDULUM, episodes=20, eval_every=20)
    trainer = make_trainer(config)
    hparams = HyperParams(actor_lr=0.1, critic_lr=0.1).as_arrays()
    state = jax.jit(trainer.init)(jax.random.key(0), hparams)
    run_episode = jax.jit(trainer.run_episode)
    stopped = []
    for episode in range(config.episodes):
        before = state.learner.actor_params
        state, metrics = run_episode(state, jnp.int32(episode), hparams)
        unchanged = all(jax.tree.leaves(jax.tree.map(np.array_equal, before, state.learner.actor_params)))
        if metrics["trained"]:
            assert unchanged == (metrics["actor_max_delta"][0] == 0)
            stopped.append(unchanged)
        if unchanged and metrics["trained"]:
            break
    assert any(stopped), "the actor never stopped at actor LR 0.1"
    first = stopped.index(True) + 1 + config.episodes_before_train
    assert int(state.tracker.actor_first_unchanged[0]) == first


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
    program = lanes.make_grid(definition.train_config())
    hparams, keys = definition.hyperparams(), definition.lane_keys()
    states, metrics = jax.jit(program.run_chunk)(jax.jit(program.init)(keys, hparams), jnp.arange(4), hparams)
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


def test_settings_of_one_kind_of_domain_are_refused_in_the_other():
    with pytest.raises(SettingError, match="tau"):
        TrainConfig(tau=0.01)
    with pytest.raises(SettingError, match="env"):
        TrainConfig(domain="Pendulum-v1", env=EnvParams(n_agents=3))
    with pytest.raises(SettingError, match="actor_update"):
        TrainConfig(domain="Pendulum-v1", actor_update="sequential")
    with pytest.raises(SettingError, match="domain"):
        TrainConfig(domain="CartPole-v1")
    with pytest.raises(SettingError, match="replay_capacity"):
        TrainConfig(domain="Pendulum-v1", replay_capacity=100, batch_size=8)
    with pytest.raises(SettingError, match="full_normalisation.*not implemented"):
        SweepDefinition.from_dict(
            dict(
                name="t",
                domain="Pendulum-v1",
                actor_lrs=[1e-3],
                critic_lrs=[1e-3],
                mitigations={"full_normalisation": 1},
            )
        )


def test_parameter_counts():
    assert networks.parameter_counts(TrainConfig(domain="Pendulum-v1", actor_hidden=(4,), critic_hidden=(2,))) == (
        (3 + 1) * 4 + (4 + 1) * 1,
        (3 + 1 + 1) * 2 + (2 + 1) * 1,
    )
    mpe = TrainConfig(domain="MPE_simple_spread_v3", actor_hidden=(4,), critic_hidden=(2,))
    assert networks.parameter_counts(mpe) == ((18 + 1) * 4 + (4 + 1) * 5, (3 * 23 + 1) * 2 + 3)
    learner = ddpg.init_learner(jax.random.key(0), mpe)
    sizes = [leaf.size for leaf in jax.tree.leaves(learner.critic_params)]
    assert sum(sizes) == networks.parameter_counts(mpe)[1]


def test_sweep_and_figures_of_another_domain(tmp_path):
    """The same commands: a Pendulum sweep, then its figures — without the MEC paper's
    claims and reference comparison, with the per-configuration table."""
    run_dir, out = tmp_path / "run", tmp_path / "figures"
    sweep = run_module(
        "jaxmadrl.sweep",
        "--domain=Pendulum-v1",
        "--actor_lrs=1e-3,1e-1",
        "--critic_lrs=1e-1",
        "--episodes=4",
        "--chunk=2",
        "--episodes_before_train=1",
        "--eval_every=2",
        "--eval_episodes=1",
        "--actor_hidden=8",
        "--critic_hidden=16",
        "--batch_size=8",
        "--replay_capacity=1000",
        f"--out={run_dir}",
    )
    assert sweep.returncode == 0, sweep.stderr
    assert "lanes with all actors stopped" in sweep.stdout
    figures = run_module("jaxmadrl.figures", f"--run={run_dir}", f"--out={out}", "--smooth=2")
    assert figures.returncode == 0, figures.stderr
    written = {path.name for path in out.iterdir()}
    assert "grid.md" in written and "fig13_per_agent_stopping.png" in written
    assert "claims.md" not in written and "fig16_reference_vs_ours.png" not in written
    rows = [line for line in (out / "grid.md").read_text().splitlines() if line.startswith("| default |")]
    assert [row.split(" | ")[1:3] for row in rows] == [["0.001", "0.1"], ["0.1", "0.1"]]


def test_exploration_noise_formulas():
    noise, shock = jnp.array([[0.5, -1.0]]), jnp.array([[1.0, 2.0]])
    ou = 0.5 * np.sqrt(0.01) * np.array([[1.0, 2.0]]) + np.array([[0.5, -1.0]]) * (1 - 0.15 * 0.01)
    np.testing.assert_allclose(ddpg.next_noise("ou", noise, shock, 0.5), ou, rtol=1e-6)
    np.testing.assert_allclose(ddpg.next_noise("gaussian", noise, shock, 0.5), [[0.5, 1.0]])


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
        trainer = make_trainer(config)
        hparams = HyperParams(actor_lr=1e-3, critic_lr=1e-3).as_arrays()
        state = trainer.init(jax.random.key(0), hparams)
        # episode 1 trains (episodes_before_train=1) and acts with noise; its stored actions
        state, _ = jax.jit(trainer.run_episode)(state, jnp.int32(0), hparams)
        start = int(state.memory.position)
        state, _ = jax.jit(trainer.run_episode)(state, jnp.int32(1), hparams)
        actions = np.asarray(state.memory.items.actions[start : start + 200, 0, 0])
        lag_one = np.corrcoef(actions[:-1], actions[1:])[0, 1]
        assert lag_one > 0.9 if exploration == "ou" else abs(lag_one) < 0.3, (exploration, lag_one)


def test_resumed_run_of_another_domain_equals_an_uninterrupted_one(tmp_path):
    """Checkpoints hold a DDPG program's whole state (replay, target networks, keys): stopped
    after its first chunk and resumed, a run gives the uninterrupted run's results bit for
    bit (the same compiled program)."""
    definition = SweepDefinition.from_dict(
        dict(
            name="t",
            domain="Pendulum-v1",
            actor_lrs=[1e-3],
            critic_lrs=[1e-1],
            episodes=4,
            chunk=2,
            eval_every=2,
            eval_episodes=1,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in SMALL.items()},
        )
    )
    whole = run_sweep(definition, tmp_path / "whole")

    def stop_after_first_chunk(progress):
        if progress.episodes_done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(definition, tmp_path / "cut", on_progress=stop_after_first_chunk)
    resumed = run_sweep(None, tmp_path / "cut", resume=True)
    assert [record["first_episode"] for record in resumed.environment] == [0, 2]
    chex.assert_trees_all_equal(resumed.metrics, whole.metrics)
    assert resumed.lanes == whole.lanes


class _FailingImport(importlib.abc.MetaPathFinder):
    """Imports of ``package`` fail as if a dependency of its own were missing."""

    def __init__(self, package: str):
        self.package = package

    def find_spec(self, name, path, target=None):
        if name == self.package:
            raise ModuleNotFoundError("No module named 'six'", name="six")
        return None


@pytest.mark.parametrize("broken", [False, True])
def test_a_missing_package_is_told_apart_from_one_that_fails_to_import(monkeypatch, broken):
    for name in [name for name in sys.modules if name == "gymnax" or name.startswith("gymnax.")]:
        monkeypatch.delitem(sys.modules, name)
    if broken:
        monkeypatch.setattr(sys, "meta_path", [_FailingImport("gymnax"), *sys.meta_path])
    else:
        monkeypatch.setitem(sys.modules, "gymnax", None)  # not installed
    with pytest.raises(SettingError) as refused:
        domains.environment("Pendulum-v1")
    assert refused.value.setting == "domain"
    if broken:
        assert "installed but failed to import: ModuleNotFoundError(\"No module named 'six'\")" in refused.value.problem
    else:
        assert "which is not installed: pip install -e '.[domains]'" in refused.value.problem
