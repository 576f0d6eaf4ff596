"""Brax's environments as domains (``brax:<name>``: reacher, halfcheetah, ant, hopper, …):
one agent, actions in [-1, 1] as Brax takes them, its default backend, and the episode
length that ``brax.envs.create`` gives an environment by default (1000 steps; the
environment itself has none). An environment that ends an episode early (an unhealthy ant
or hopper) starts again within the same program episode from the episode's first state,
as Brax's own auto-reset does; the time limit is not a termination.

Building a Brax environment reads its model (about 1 s), once per process."""

from __future__ import annotations

import functools
import inspect
import warnings

import jax
import jax.numpy as jnp
from brax import envs

from jaxmadrl.envs.domains import DomainSpec, Environment, Step, unknown_name

EPISODE_LENGTH = inspect.signature(envs.create).parameters["episode_length"].default


@functools.cache
def _made(name: str):
    if name not in envs._envs:  # Brax's registry; get_environment raises a bare KeyError
        raise unknown_name("brax", name, envs._envs)
    with warnings.catch_warnings():  # every model it reads says that Brax is no longer maintained (README)
        warnings.filterwarnings("ignore", message="Brax System, piplines and environments are not actively")
        return envs.get_environment(name)


def spec(name: str) -> DomainSpec:
    env = _made(name)
    actions = int(env.action_size)
    # The shape of a first state, traced: Brax's own observation_size runs reset op by op (20 s for Ant).
    observations = jax.eval_shape(env.reset, jax.random.PRNGKey(0)).obs.shape[-1]
    return DomainSpec(name, "brax", 1, observations, actions, EPISODE_LENGTH, (-1.0,) * actions, (1.0,) * actions)


def environment(name: str, spec: DomainSpec) -> Environment:
    env = _made(name)

    def reset(key):
        first = env.reset(key)
        return first.obs[None], (first, first)

    def step(key, state, actions):
        current, first = state
        stepped = env.step(current, actions[0])
        ended = stepped.done > 0
        restarted = jax.tree.map(lambda start, now: jnp.where(ended, start, now), first, stepped)
        return Step(restarted.obs[None], (restarted, first), stepped.obs[None], stepped.reward, ended, ended)

    return Environment(spec, reset, step)
