"""JaxMARL's multi-agent particle environments as domains (``jaxmarl:MPE_<name>``), with
continuous actions: every agent an actor, observations stacked (a shorter one padded with
zeros to the longest), the shared reward the mean of the agents'. Agents must share one
action space. The other JaxMARL families (SMAX, MABrax, Overcooked, …) end episodes and
shape their spaces each in their own way and are refused by name.

An MPE episode ends only at its time limit, which is the program's episode length, so the
non-resetting ``step_env`` is used: the true last observation is kept and the limit is not
a termination. (Its ``max_steps`` of 25 counts the steps before the last: ``done`` comes
with the 26th step.)"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import jaxmarl
import numpy as np
from jaxmarl.environments import spaces

from jaxmadrl.core.limits import SettingError
from jaxmadrl.envs.domains import DomainSpec, Environment, Step, to_bounds, unknown_name

FAMILY = "MPE_"  # the environments taken: the multi-agent particle environments


@functools.cache
def _made(name: str):
    if name not in jaxmarl.registered_envs:
        raise unknown_name("jaxmarl", name, jaxmarl.registered_envs)
    if not name.startswith(FAMILY):
        mpe = [known for known in jaxmarl.registered_envs if known.startswith(FAMILY)]
        raise SettingError("domain", f"jaxmarl:{name}: of JaxMARL's environments the MPE ones are taken: {mpe}")
    return jaxmarl.make(name, action_type="Continuous")


def spec(name: str) -> DomainSpec:
    env = _made(name)
    actions = [env.action_space(agent) for agent in env.agents]
    shapes = {(tuple(a.shape), float(np.min(a.low)), float(np.max(a.high))) for a in actions}
    if len(shapes) > 1 or not all(isinstance(a, spaces.Box) for a in actions):
        raise SettingError("domain", f"jaxmarl:{name}: its agents' action spaces differ ({sorted(shapes)})")
    (shape, low, high) = shapes.pop()
    obs_dim = max(int(np.prod(env.observation_space(agent).shape)) for agent in env.agents)
    action_dim = int(np.prod(shape))
    return DomainSpec(
        name,
        "jaxmarl",
        env.num_agents,
        obs_dim,
        action_dim,
        env.max_steps + 1,
        (low,) * action_dim,
        (high,) * action_dim,
    )


def environment(name: str, spec: DomainSpec) -> Environment:
    env = _made(name)
    agents = tuple(env.agents)

    def stacked(observations: dict) -> jnp.ndarray:
        flat = [jnp.ravel(observations[agent]) for agent in agents]
        return jnp.stack([jnp.pad(obs, (0, spec.obs_dim - obs.shape[0])) for obs in flat])

    def reset(key):
        obs, state = env.reset(key)
        return stacked(obs), state

    def step(key, state, actions):
        bounded = to_bounds(spec, actions)
        obs, state, rewards, dones, _ = env.step_env(key, state, {a: bounded[i] for i, a in enumerate(agents)})
        obs = stacked(obs)
        reward = jnp.mean(jnp.stack([rewards[agent] for agent in agents]))
        return Step(obs, state, obs, reward, jnp.bool_(False), dones["__all__"])

    return Environment(spec, reset, step)
