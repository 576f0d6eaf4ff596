"""The MEC environment driven through gymnax's and JaxMARL's own APIs: the same rewards as
jaxmadrl's step, the server's limits held by the stated admission rule."""

import re

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxmadrl.core import paths
from jaxmadrl.envs import mec
from jaxmadrl.envs import mec_adapters as adapters  # the domains extra, part of the test extra

PARAMS = mec.EnvParams(n_agents=6, steps_per_episode=3)


def random_outputs(seed, n=PARAMS.n_agents):
    return jax.random.uniform(jax.random.key(seed), (n, mec.ACTION_DIM), minval=-1.0, maxval=1.0)


def test_the_rule_admits_the_most_insistent_proposals_within_the_limits():
    params = mec.EnvParams()
    world = mec.make_world(jax.random.key(1), params)
    for seed in range(5):
        _, state = mec.reset(jax.random.key(seed), world, params)
        outputs = random_outputs(seed, params.n_agents)
        action, overflow = adapters.admitted_action(outputs, state, params)
        decision, sizes = np.asarray(outputs[:, 0]), np.asarray(state.size_mb)
        expected, used = np.zeros(params.n_agents), 0.0
        for device in np.argsort(-decision):  # the plain rule
            if decision[device] >= 0 and expected.sum() < params.max_accepted and used + sizes[device] < 400.0:
                expected[device], used = 1.0, used + sizes[device]
        np.testing.assert_array_equal(np.asarray(action[:, 0]), expected)
        np.testing.assert_array_equal(action[:, 1:], mec.actor_output_to_fraction(outputs[:, 1:]))
        assert bool(overflow) == ((decision >= 0).sum() > 10 or sizes[decision >= 0].sum() > 400.0)
        assert expected.sum() <= params.max_accepted and sizes[expected == 1].sum() < params.server_storage_mb


def test_gymnax_steps_are_jaxmadrls_steps_and_reset_at_the_time_limit():
    env = adapters.MecGymnax(PARAMS, world_seed=3)
    params = env.default_params
    chex.assert_trees_all_equal(env.world, mec.make_world(jax.random.key(3), PARAMS))
    assert env.action_space(params).shape == (6, 3) and env.observation_space(params).shape == (6, 7)
    obs, state = env.reset(jax.random.key(0), params)
    for t in range(PARAMS.steps_per_episode + 1):
        key, outputs = jax.random.key(100 + t), random_outputs(t)
        key_step, _ = jax.random.split(key)  # gymnax's step hands step_env the first half
        action, _ = adapters.admitted_action(outputs, state.mec, PARAMS)
        own_obs, own_state, own_reward, own_done, _ = mec.step(key_step, state.mec, action, PARAMS)
        obs, state, reward, terminated, truncated, info = env.step(key, state, outputs, params)
        assert float(reward) == float(own_reward) and not bool(terminated)
        assert bool(truncated) == bool(own_done) == (t == PARAMS.steps_per_episode - 1)
        if truncated:  # auto-reset: a fresh episode on the same devices
            assert int(state.time) == 0 and int(state.mec.step) == 0
            np.testing.assert_array_equal(info["final_observation"], own_obs)
        else:
            np.testing.assert_array_equal(obs, own_obs)


def test_gymnax_vmaps_over_environments():
    env = adapters.MecGymnax(PARAMS)
    keys = jax.random.split(jax.random.key(0), 8)
    obs, states = jax.vmap(env.reset, in_axes=(0, None))(keys, env.default_params)
    outputs = jax.vmap(random_outputs)(jnp.arange(8))
    _, _, rewards, *_ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(keys, states, outputs, env.default_params)
    chex.assert_shape([obs], (8, 6, 7))
    chex.assert_shape(rewards, (8,))
    assert len(set(np.asarray(rewards).tolist())) == 8  # each environment its own tasks


def test_jaxmarl_agents_share_jaxmadrls_reward():
    env = adapters.MecJaxMARL(PARAMS, world_seed=3)
    assert env.agents == [f"agent_{n}" for n in range(6)]
    assert env.action_space("agent_0").shape == (3,) and env.observation_space("agent_5").shape == (7,)
    obs, state = env.reset(jax.random.key(0))
    for t in range(PARAMS.steps_per_episode):
        outputs = random_outputs(t)
        actions = {agent: outputs[n] for n, agent in enumerate(env.agents)}
        key = jax.random.key(100 + t)
        key_step, _ = jax.random.split(key)  # JaxMARL's step hands step_env the first half
        action, _ = adapters.admitted_action(outputs, state.mec, PARAMS)
        own_obs, _, own_reward, own_done, _ = mec.step(key_step, state.mec, action, PARAMS)
        obs, state, rewards, dones, _ = env.step(key, state, actions)
        assert {float(r) for r in rewards.values()} == {float(own_reward)}
        assert bool(dones["__all__"]) == bool(own_done) == (t == PARAMS.steps_per_episode - 1)
        if not own_done:
            np.testing.assert_array_equal(jnp.stack([obs[agent] for agent in env.agents]), own_obs)
    assert int(state.step) == 0  # reset after the last step


def test_the_readme_rollout_runs_as_written(capsys):
    readme = (paths.REPOSITORY_DIR / "README.md").read_text()
    code = re.search(r"<!-- gymnax example -->\n```python\n(.*?)```", readme, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    mean = float(re.fullmatch(r"random policy: (-?\d+) ± \d+ per episode over 64 environments", printed).group(1))
    assert -1e6 < mean < 0  # a reward is minus a cost
