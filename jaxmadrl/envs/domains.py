"""The environments a program can train in: the project's MEC world, and any environment of
gymnax, JaxMARL (its multi-agent particle environments) or Brax by name, used as its package
defines it (``pip install -e '.[domains]'``; Brax: ``'.[brax]'``).

A *domain* is the static setting ``TrainConfig.domain``: ``mec``, or ``package:name`` —
``gymnax:Pendulum-v1``, ``gymnax:Acrobot-v1``, ``jaxmarl:MPE_simple_spread_v3``,
``brax:reacher``. The names the project used before packages were named
(``Pendulum-v1``, ``MountainCarContinuous-v0``, ``MPE_simple_spread_v3``) still mean their
package's environment. A domain's shape — agents, observation and action sizes, whether its
actions are discrete, its episode length and action bounds — is read from its package
(``spec_of``; each package module: ``gymnax_envs``, ``jaxmarl_envs``, ``brax_envs``), and
``environment`` builds its pure ``reset``/``step``. Every foreign domain is seen as N agents
with observations (N, O) (an image or a shorter agent's observation flattened and padded
with zeros) and actions either (N, A) in [-1, 1] (the tanh range), mapped affinely to the
environment's bounds, or, in a discrete action space, (N,) action indices; its reward is
one scalar per step (for several agents, the mean of theirs).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from typing import Callable, NamedTuple

import chex
import jax.numpy as jnp

from jaxmadrl.core.limits import SettingError
from jaxmadrl.envs.mec import ACTION_DIM, OBS_DIM, EnvParams

MEC = "mec"
PACKAGES = {"gymnax": "gymnax_envs", "jaxmarl": "jaxmarl_envs", "brax": "brax_envs"}  # package → adapter module
EXTRAS = {"gymnax": "domains", "jaxmarl": "domains", "brax": "brax"}  # the extra that installs each
# The names of the first domains, from before domains named their package
LEGACY_NAMES = {
    "Pendulum-v1": "gymnax:Pendulum-v1",
    "MountainCarContinuous-v0": "gymnax:MountainCarContinuous-v0",
    "MPE_simple_spread_v3": "jaxmarl:MPE_simple_spread_v3",
}


@dataclasses.dataclass(frozen=True)
class DomainSpec:
    """The static shape of a domain. ``steps_per_episode``: the environment steps of one
    episode of the program (the environment's own limit); ``discrete``: actions are indices
    of ``action_dim`` choices (no bounds), else ``action_dim`` reals, the [-1, 1] of the
    actors mapped to ``action_low``/``action_high`` (A,); ``package``: where it comes from."""

    name: str
    package: str
    n_agents: int
    obs_dim: int
    action_dim: int
    steps_per_episode: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    discrete: bool = False


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

    reset(key) → (obs (N, O), state); step(key, state, actions) → Step, actions (N, A) in
    [-1, 1] or, in a discrete domain, (N,) integer indices.
    """

    spec: DomainSpec
    reset: Callable
    step: Callable


def to_bounds(spec: DomainSpec, actions: chex.Array) -> chex.Array:
    """Actions in [-1, 1] (..., A) → the environment's [low, high], affinely."""
    low, high = jnp.asarray(spec.action_low), jnp.asarray(spec.action_high)
    return low + (actions + 1.0) * (0.5 * (high - low))


def parse(domain: str) -> tuple[str, str]:
    """(package, environment name) of a domain name; SettingError unless it is ``mec``, a
    legacy name or ``package:name`` of a known package."""
    if not isinstance(domain, str):
        raise SettingError("domain", f"must be a name, got {domain!r}")
    if domain == MEC:
        return "jaxmadrl", MEC
    package, _, name = LEGACY_NAMES.get(domain, domain).partition(":")
    if package not in PACKAGES or not name:
        raise SettingError(
            "domain",
            f"must be mec or package:name with a package of {list(PACKAGES)} (e.g. gymnax:Pendulum-v1), got {domain!r}",
        )
    return package, name


def spec_of(domain: str, env_params: EnvParams) -> DomainSpec:
    """The shape of ``domain`` (MEC's from its ``EnvParams``; another's read from its package,
    once per process). SettingError naming the domain if its package is missing or has no
    environment of that name, or its actions are of a kind no learner here takes."""
    if domain == MEC:
        return DomainSpec(
            MEC, "jaxmadrl", env_params.n_agents, OBS_DIM, ACTION_DIM, env_params.steps_per_episode, (-1.0,), (1.0,)
        )
    return _foreign_spec(domain)


@functools.cache
def _foreign_spec(domain: str) -> DomainSpec:
    package, name = parse(domain)
    return dataclasses.replace(adapter(package, domain).spec(name), name=domain)


def environment(domain: str) -> Environment:
    """The environment of a foreign domain, from its package (errors as ``spec_of``)."""
    spec = spec_of(domain, EnvParams())
    return adapter(spec.package, domain).environment(parse(domain)[1], spec)


def adapter(package: str, domain: str):
    """The module that reads ``package``'s environments. SettingError naming ``domain`` if
    the package is not installed, or is installed but fails to import (a dependency of its
    own missing or broken), saying which."""
    try:
        importlib.import_module(package)
    except ImportError as error:
        extra = EXTRAS[package]
        if isinstance(error, ModuleNotFoundError) and error.name == package:
            problem = f"needs the {package} package, which is not installed: pip install -e '.[{extra}]'"
        else:
            problem = (
                f"needs the {package} package, which is installed but failed to import: {error!r}; "
                f"pip install -e '.[{extra}]' installs a working set (add -c constraints.txt for the tested one)"
            )
        raise SettingError("domain", f"{domain!r} {problem}") from None
    return importlib.import_module(f"jaxmadrl.envs.{PACKAGES[package]}")


def unknown_name(package: str, name: str, known) -> SettingError:
    """The error of a name its package does not have, listing the names it has."""
    return SettingError("domain", f"{package} has no environment {name!r}; it has {sorted(known)}")
