"""The environments a program can train in: the project's MEC world, and continuous-control
environments from well-kept JAX packages, used as they are (``pip install -e '.[domains]'``).

A *domain* is chosen by the static setting ``TrainConfig.domain``. Its shapes are known here
without importing its package (the packages are optional and slow to import); ``environment``
builds its pure ``reset``/``step`` on demand. Every foreign domain is seen as N agents with
observations (N, O) and actions (N, A) in [-1, 1] (the tanh range), mapped affinely to the
environment's own action bounds; its reward is one scalar per step (for several agents, the
mean of theirs).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import chex
import jax.numpy as jnp

from jaxmadrl.core.limits import SettingError
from jaxmadrl.envs.mec import ACTION_DIM, OBS_DIM, EnvParams

MEC = "mec"


@dataclasses.dataclass(frozen=True)
class DomainSpec:
    """The static shape of a domain. ``steps_per_episode``: the environment steps of one
    episode of the program (the environment's own limit); ``action_low/high``: the bounds
    the actors' [-1, 1] outputs are mapped to; ``package``: where it comes from."""

    name: str
    package: str
    n_agents: int
    obs_dim: int
    action_dim: int
    steps_per_episode: int
    action_low: float
    action_high: float


FOREIGN = {
    spec.name: spec
    for spec in (
        DomainSpec("Pendulum-v1", "gymnax", 1, 3, 1, 200, -2.0, 2.0),
        DomainSpec("MountainCarContinuous-v0", "gymnax", 1, 2, 1, 999, -1.0, 1.0),
        DomainSpec("MPE_simple_spread_v3", "jaxmarl", 3, 18, 5, 26, 0.0, 1.0),
    )
}
NAMES = (MEC, *FOREIGN)


def spec_of(domain: str, env_params: EnvParams) -> DomainSpec:
    """The shape of ``domain`` (MEC's from its ``EnvParams``)."""
    if domain == MEC:
        return DomainSpec(
            MEC, "jaxmadrl", env_params.n_agents, OBS_DIM, ACTION_DIM, env_params.steps_per_episode, -1.0, 1.0
        )
    return FOREIGN[domain]


class Step(NamedTuple):
    """One environment step. ``obs`` (N, O): where the next step starts (a new episode's
    first observation if this one ended); ``next_obs`` (N, O): what the step led to, before
    any reset; ``reward``: scalar; ``terminated``: a true end (no bootstrapping);
    ``done``: the episode ended (terminated or truncated)."""

    obs: chex.Array
    state: chex.ArrayTree
    next_obs: chex.Array
    reward: chex.Array
    terminated: chex.Array
    done: chex.Array


class Environment(NamedTuple):
    """Pure, jittable functions of one environment instance.

    reset(key) → (obs (N, O), state); step(key, state, actions (N, A) in [-1, 1]) → Step.
    """

    spec: DomainSpec
    reset: Callable
    step: Callable


def to_bounds(spec: DomainSpec, actions: chex.Array) -> chex.Array:
    """Actions in [-1, 1] → the environment's [low, high], affinely."""
    return spec.action_low + (actions + 1.0) * (0.5 * (spec.action_high - spec.action_low))


def environment(domain: str) -> Environment:
    """The environment of a foreign domain, from its package. SettingError naming the
    domain if the package is not installed, or is installed but fails to import (a
    dependency of its own missing or broken), saying which."""
    spec = FOREIGN[domain]
    builder = {"gymnax": _gymnax_environment, "jaxmarl": _jaxmarl_environment}[spec.package]
    try:
        return builder(spec)
    except ImportError as error:
        if isinstance(error, ModuleNotFoundError) and error.name == spec.package:
            problem = f"needs the {spec.package} package, which is not installed: pip install -e '.[domains]'"
        else:
            problem = (
                f"needs the {spec.package} package, which is installed but failed to import: {error!r}; "
                "pip install -e '.[domains]' installs a working set (add -c constraints.txt for the tested one)"
            )
        raise SettingError("domain", f"{domain!r} {problem}") from None


def _gymnax_environment(spec: DomainSpec) -> Environment:
    """A gymnax environment as it is: its ``step`` resets by itself and reports the real
    last observation in ``info["final_observation"]``."""
    import gymnax

    env, params = gymnax.make(spec.name)

    def reset(key):
        obs, state = env.reset(key, params)
        return obs[None], state

    def step(key, state, actions):
        obs, state, reward, terminated, truncated, info = env.step(key, state, to_bounds(spec, actions[0]), params)
        return Step(
            obs[None], state, info["final_observation"][None], reward, terminated, jnp.logical_or(terminated, truncated)
        )

    return Environment(spec, reset, step)


def _jaxmarl_environment(spec: DomainSpec) -> Environment:
    """A JaxMARL multi-agent particle environment with continuous actions. Its episodes end
    only at the time limit, which is the program's episode length, so the non-resetting
    ``step_env`` is used: the true last observation is kept and the time limit does not
    count as a termination. (Its ``max_steps`` of 25 counts the steps before the last: the
    step with ``done`` is the 26th.)"""
    import jaxmarl

    env = jaxmarl.make(spec.name, action_type="Continuous")
    agents = tuple(env.agents)

    def stacked(per_agent: dict) -> chex.Array:
        return jnp.stack([per_agent[agent] for agent in agents])

    def reset(key):
        obs, state = env.reset(key)
        return stacked(obs), state

    def step(key, state, actions):
        bounded = to_bounds(spec, actions)
        obs, state, rewards, dones, _ = env.step_env(key, state, {a: bounded[i] for i, a in enumerate(agents)})
        obs = stacked(obs)
        return Step(obs, state, obs, jnp.mean(stacked(rewards)), jnp.bool_(False), dones["__all__"])

    return Environment(spec, reset, step)
