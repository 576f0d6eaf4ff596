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
from cli_helpers import run_in_process
from domain_configs import SMALL, small_config

from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.trainers import make_train
from jaxmadrl.core.limits import SettingError
from jaxmadrl.envs import domains
from jaxmadrl.envs.mec import EnvParams
from jaxmadrl.store.runs import run_sweep
from jaxmadrl.study.definition import SweepDefinition

# The domains of the committed sweeps, by their names from before packages were named, and
# others by package:name (a discrete space, an image observation, agents of two sizes)
NAMED = ["Pendulum-v1", "MountainCarContinuous-v0", "MPE_simple_spread_v3", "gymnax:Reacher-misc"]
OTHERS = ["gymnax:Acrobot-v1", "gymnax:Breakout-MinAtar", "jaxmarl:MPE_simple_adversary_v3"]


@pytest.mark.parametrize("name", NAMED + OTHERS)
def test_specs_are_the_packages_own(name):
    spec = domains.spec_of(name, EnvParams())
    package, env_name = domains.parse(name)
    assert spec.package == package and spec.name == name
    if package == "gymnax":
        env, params = gymnax.make(env_name)
        space, agents = env.action_space(params), 1
        assert np.prod(env.observation_space(params).shape) == spec.obs_dim
        assert params.max_steps_in_episode == spec.steps_per_episode
    else:
        env = jaxmarl.make(env_name, action_type="Continuous")
        space, agents = env.action_space(env.agents[0]), env.num_agents
        assert max(env.observation_space(agent).shape[0] for agent in env.agents) == spec.obs_dim
        assert env.max_steps + 1 == spec.steps_per_episode  # done comes with the step after max_steps
    assert agents == spec.n_agents
    if spec.discrete:
        assert space.n == spec.action_dim and spec.action_low == spec.action_high == ()
    else:
        assert space.shape == (spec.action_dim,)
        for bound, ours in ((space.low, spec.action_low), (space.high, spec.action_high)):
            np.testing.assert_array_equal(np.broadcast_to(bound, (spec.action_dim,)), np.float32(ours))


def test_names_that_are_no_environment_are_one_setting_error_naming_what_there_is():
    for name, fragment in (
        ("gymnax:Nope-v0", "gymnax has no environment 'Nope-v0'; it has ['Acrobot-v1', "),
        ("CartPole-v1", "must be mec or package:name"),
        ("jaxmarl:SMAX", "of JaxMARL's environments the MPE ones are taken"),
        ("jaxmarl:MPE_simple_speaker_listener_v4", "its agents' action spaces differ"),
    ):
        with pytest.raises(SettingError) as refused:
            TrainConfig(domain=name)
        assert refused.value.setting == "domain" and fragment in refused.value.problem, refused.value.problem
    with pytest.raises(SettingError, match="ddpg acts in continuous action spaces; gymnax:Acrobot-v1 has 3 discrete"):
        TrainConfig(domain="gymnax:Acrobot-v1")
    with pytest.raises(SettingError, match="policy_mean applies to continuous actions"):
        TrainConfig(domain="gymnax:Acrobot-v1", learner="ppo", policy_mean="tanh")


def test_actions_map_onto_the_bounds():
    spec = domains.spec_of("MPE_simple_spread_v3", EnvParams())
    np.testing.assert_array_equal(
        domains.to_bounds(spec, jnp.array([-1.0, 0.0, 1.0, 0.5, -0.5])), [0, 0.5, 1, 0.75, 0.25]
    )
    spec = domains.spec_of("Pendulum-v1", EnvParams())
    np.testing.assert_array_equal(domains.to_bounds(spec, jnp.array([[-1.0], [0.5], [1.0]]))[:, 0], [-2.0, 1.0, 2.0])


def test_observations_are_flat_and_agents_of_shorter_ones_padded_with_zeros():
    adversary = domains.environment("jaxmarl:MPE_simple_adversary_v3")
    env = jaxmarl.make("MPE_simple_adversary_v3", action_type="Continuous")
    obs, _ = adversary.reset(jax.random.key(0))
    theirs, _ = env.reset(jax.random.key(0))
    chex.assert_shape(obs, (3, 10))
    for row, agent in zip(obs, env.agents):
        width = theirs[agent].shape[0]
        np.testing.assert_array_equal(row[:width], theirs[agent])
        assert not row[width:].any()
    breakout = domains.environment("gymnax:Breakout-MinAtar")
    obs, _ = breakout.reset(jax.random.key(0))
    assert obs.shape == (1, 400) and obs.dtype == jnp.float32


@pytest.mark.parametrize("name", NAMED)
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
        env, params = gymnax.make(domains.parse(name)[1])
        last_state = jax.tree.map(lambda x: x[-1], states)
        outcome = env.step_env(jax.random.key(2), last_state, domains.to_bounds(spec, actions[0]), params)[0]
        np.testing.assert_array_equal(next_obs[-1, 0], outcome)
        assert not np.array_equal(obs_after[0], outcome)


def test_a_discrete_environment_takes_action_indices_and_ends_early_where_it_does():
    acrobot = domains.environment("gymnax:Acrobot-v1")
    env, params = gymnax.make("Acrobot-v1")
    obs, state = acrobot.reset(jax.random.key(0))
    theirs, their_state = env.reset(jax.random.key(0), params)
    np.testing.assert_array_equal(obs[0], theirs)
    step = acrobot.step(jax.random.key(1), state, jnp.array([2]))
    their_obs, _, reward, terminated, _, info = env.step(jax.random.key(1), their_state, 2, params)
    np.testing.assert_array_equal(step.obs[0], their_obs)
    assert step.reward == reward == -1.0 and step.terminated == terminated


def test_settings_of_one_kind_of_domain_are_refused_in_the_other():
    with pytest.raises(SettingError, match="tau"):
        TrainConfig(tau=0.01)
    with pytest.raises(SettingError, match="n_agents is a setting of the MEC world"):
        TrainConfig(domain="Pendulum-v1", env=EnvParams(n_agents=3))
    with pytest.raises(SettingError, match="world is a setting of the MEC world"):
        TrainConfig(domain="Pendulum-v1", env=EnvParams(world="reference"))
    with pytest.raises(SettingError, match="actor_update"):
        TrainConfig(domain="Pendulum-v1", actor_update="sequential")
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
    sweep = run_in_process(
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
    figures = run_in_process("jaxmadrl.figures", f"--run={run_dir}", f"--out={out}", "--smooth=2", "--formats=png")
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


def test_episode_length_cuts_the_program_episode_at_a_time_limit():
    """episode_length: every program episode is that many steps (a time limit, not a
    termination), here 10 of Pendulum's 200: two episodes store 20 transitions, none terminal."""
    config = small_config("Pendulum-v1", episodes=2, replay_capacity=100, episode_length=10)
    assert config.spec.steps_per_episode == 10 and domains.spec_of("Pendulum-v1", EnvParams()).steps_per_episode == 200
    state, metrics = jax.jit(make_train(config))(jax.random.key(0), HyperParams(jnp.float32(1e-3), jnp.float32(1e-3)))
    assert int(state.memory.size) == 20 and not np.asarray(state.memory.items.terminated).any()
    with pytest.raises(SettingError, match="episode_length applies only to domains other than mec"):
        TrainConfig(episode_length=10)
