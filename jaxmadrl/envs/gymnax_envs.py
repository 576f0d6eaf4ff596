"""gymnax's environments as domains (``gymnax:<name>``): one agent, the observation
flattened, a Box action space (its bounds) or a Discrete one (its choices), the episode
length of the environment's default parameters. gymnax's ``step`` resets by itself and
reports the real last observation in ``info["final_observation"]``."""

from __future__ import annotations

import functools

import gymnax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces

from jaxmadrl.core.limits import SettingError
from jaxmadrl.envs.domains import DomainSpec, Environment, Step, to_bounds, unknown_name


@functools.cache
def _made(name: str):
    """(environment, its default parameters), once per process."""
    if name not in gymnax.registered_envs:
        raise unknown_name("gymnax", name, gymnax.registered_envs)
    return gymnax.make(name)


def spec(name: str) -> DomainSpec:
    env, params = _made(name)
    action = env.action_space(params)
    obs_dim = int(np.prod(env.observation_space(params).shape))
    steps = int(params.max_steps_in_episode)
    if isinstance(action, spaces.Discrete):
        return DomainSpec(name, "gymnax", 1, obs_dim, int(action.n), steps, (), (), discrete=True)
    if not isinstance(action, spaces.Box):
        raise SettingError("domain", f"gymnax:{name} has a {type(action).__name__} action space, not Box or Discrete")
    shape = tuple(action.shape) or (1,)
    low, high = (np.broadcast_to(np.asarray(bound, np.float64), shape).ravel() for bound in (action.low, action.high))
    return DomainSpec(name, "gymnax", 1, obs_dim, len(low), steps, tuple(map(float, low)), tuple(map(float, high)))


def environment(name: str, spec: DomainSpec) -> Environment:
    env, params = _made(name)
    shape = env.action_space(params).shape

    def flat(obs):  # (1, O) float32, whatever the environment's observation (MinAtar's are boolean images)
        return jnp.ravel(obs).astype(jnp.float32)[None]

    def reset(key):
        obs, state = env.reset(key, params)
        return flat(obs), state

    def step(key, state, actions):
        action = actions[0] if spec.discrete else to_bounds(spec, actions[0]).reshape(shape)
        obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)
        done = jnp.logical_or(terminated, truncated)
        return Step(flat(obs), state, flat(info["final_observation"]), jnp.float32(reward), terminated, done)

    return Environment(spec, reset, step)
