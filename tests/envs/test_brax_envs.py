"""Brax's environments by name: the shape Brax gives them, its own step, the restart of an
episode that ends early, and a learner training in one (the brax extra)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.trainers import make_train
from jaxmadrl.envs import domains
from jaxmadrl.envs.mec import EnvParams

brax_envs = pytest.importorskip("brax.envs", reason="the brax extra is not installed")

pytestmark = [
    pytest.mark.slow,  # building a Brax environment reads and compiles its model (10-20 s)
    pytest.mark.filterwarnings("ignore:Brax System, piplines and environments are not actively:UserWarning"),
]


def test_reacher_is_braxs_own_and_a_learner_trains_in_it():
    spec = domains.spec_of("brax:reacher", EnvParams())
    env = brax_envs.get_environment("reacher")
    assert spec.steps_per_episode == 1000 and spec.action_low == (-1.0, -1.0) and not spec.discrete
    reacher = domains.environment("brax:reacher")

    @jax.jit  # one program for both: Brax's physics compiles once, not four times
    def ours_and_theirs(action):
        obs, state = reacher.reset(jax.random.key(0))
        theirs = env.reset(jax.random.key(0))
        return obs, theirs, reacher.step(jax.random.key(1), state, action[None]), env.step(theirs, action)

    obs, theirs, step, their_step = ours_and_theirs(jnp.array([0.3, -0.7]))
    # Brax's observation_size would run its reset op by op (compiling each); its first state has the shape
    assert (spec.n_agents, spec.obs_dim, spec.action_dim) == (1, theirs.obs.shape[-1], env.action_size) == (1, 11, 2)
    np.testing.assert_array_equal(obs[0], theirs.obs)
    np.testing.assert_array_equal(step.obs[0], their_step.obs)
    assert step.reward == their_step.reward and not step.done
    # DDPG in it, two episodes of 50 steps as in the size study's Reacher sweeps (the second
    # learning): finite and measured
    config = TrainConfig(
        domain="brax:reacher",
        episode_length=50,
        episodes=2,
        eval_every=1,
        eval_episodes=1,
        actor_hidden=(8,),
        critic_hidden=(16,),
        batch_size=8,
        replay_capacity=100,
    )
    _, metrics = jax.jit(make_train(config))(jax.random.key(0), HyperParams(jnp.float32(1e-3), jnp.float32(1e-3)))
    assert np.isfinite(metrics["eval_reward"]).all() and np.isfinite(metrics["actor_grad_norm"][1])


def test_an_episode_that_ends_early_starts_again_from_its_first_state():
    hopper = domains.environment("brax:hopper")

    def step(carry, _):
        out = hopper.step(jax.random.key(0), carry, jnp.ones((1, 3)))  # full torque: it falls
        return out.state, (out.obs, out.next_obs, out.terminated, out.done)

    @jax.jit  # one program: Brax's physics compiles once for the reset and the steps
    def first_and_steps(key):
        obs, state = hopper.reset(key)
        return obs, jax.lax.scan(step, state, None, length=300)[1]

    obs, (after, next_obs, terminated, done) = first_and_steps(jax.random.key(0))
    ends = np.flatnonzero(terminated)
    assert ends.size and (terminated == done).all()  # an unhealthy hopper ends, and nothing else does
    first = ends[0]
    np.testing.assert_array_equal(after[first, 0], obs[0])  # the next step starts where the episode did
    assert not np.array_equal(next_obs[first, 0], obs[0])  # what the ending step led to is kept
