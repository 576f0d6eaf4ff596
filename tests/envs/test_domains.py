"""Other domains: the environments as their packages define them, the DDPG/MADDPG program
(soft targets, the per-episode stop semantics, learning), lanes of the grid, and settings
that belong to one kind of domain only."""

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
from domain_configs import SMALL

from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.core.limits import SettingError
from jaxmadrl.envs import domains
from jaxmadrl.envs.mec import EnvParams
from jaxmadrl.store.runs import run_sweep
from jaxmadrl.study.definition import SweepDefinition


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


def test_settings_of_one_kind_of_domain_are_refused_in_the_other():
    with pytest.raises(SettingError, match="tau"):
        TrainConfig(tau=0.01)
    with pytest.raises(SettingError, match="n_agents is a setting of the MEC world"):
        TrainConfig(domain="Pendulum-v1", env=EnvParams(n_agents=3))
    with pytest.raises(SettingError, match="world is a setting of the MEC world"):
        TrainConfig(domain="Pendulum-v1", env=EnvParams(world="reference"))
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


@pytest.mark.slow
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
    assert "claims.md" not in written and "baselines.md" not in written and "fig16_reference_vs_ours.png" not in written
    rows = [line for line in (out / "grid.md").read_text().splitlines() if line.startswith("| default |")]
    assert [row.split(" | ")[1:3] for row in rows] == [["0.001", "0.1"], ["0.1", "0.1"]]


@pytest.mark.slow
@pytest.mark.parametrize("learner", ["ddpg", "td3", "sac", "ppo"])
def test_resumed_run_of_another_domain_equals_an_uninterrupted_one(tmp_path, learner):
    """Checkpoints hold a learner's whole state (replay, target networks, TD3's update count,
    SAC's temperature, PPO's log-stds, keys): stopped after its first chunk and resumed, a
    run gives the uninterrupted run's results bit for bit (the same compiled program)."""
    definition = SweepDefinition.from_dict(
        dict(
            name="t",
            domain="Pendulum-v1",
            learner=learner,
            actor_lrs=[1e-3],
            critic_lrs=[1e-1],
            episodes=4,
            chunk=2,
            eval_every=2,
            eval_episodes=1,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in SMALL.items()},
            **({"rollout_envs": 2} if learner == "ppo" else {}),
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
