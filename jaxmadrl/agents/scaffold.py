"""What every learner's training program is built from: the ``Trainer`` of pure functions,
its assembly from ``init`` and ``run_episode``, the episode clock (where an episode stands in
its run) and the scan over a chunk of episodes with its padding."""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.extend
import jax.numpy as jnp
from flax import struct

from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.networks import Networks, make_networks
from jaxmadrl.core import numerics


class Trainer(NamedTuple):
    init: Callable
    run_episode: Callable
    run_episodes: Callable
    train: Callable
    act: Callable  # act(learner state, obs (N, O), hparams) → the actors' greedy actions (N, A) in [-1, 1]
    evaluate: Callable  # evaluate(state, hparams) → the evaluation metrics of the state's eval_key episodes


def nan_like(tree):
    """NaN (False for booleans) in the shapes and dtypes of ``tree``."""
    return jax.tree.map(
        lambda x: jnp.full(x.shape, jnp.nan if jnp.issubdtype(x.dtype, jnp.floating) else 0, x.dtype), tree
    )


def traced_once(fn: Callable, *args) -> tuple[Callable, Any]:
    """``fn`` traced once at ``args`` → (a function of the same arguments that computes the
    recorded program, the shapes and dtypes of ``fn``'s outputs). A branch that needs the
    other branch's output shapes (a ``lax.cond`` whose untaken side is NaN) calls the first
    instead of ``fn``: the same operations, without tracing ``fn`` a second time."""
    closed, shapes = jax.make_jaxpr(fn, return_shape=True)(*args)
    run_flat, treedef = jax.extend.core.jaxpr_as_fun(closed), jax.tree.structure(shapes)
    return (lambda *operands: jax.tree.unflatten(treedef, run_flat(*jax.tree.leaves(operands)))), shapes


def networks_of(config: TrainConfig) -> Networks:
    """The actor ensemble and critic of the program ``config`` fixes."""
    return make_networks(
        config.env.n_agents,
        config.actor_hidden,
        config.critic_hidden,
        hidden_norms=config.hidden_norm_layers,
        stochastic=config.stochastic_actors,
    )


@struct.dataclass
class EpisodeClock:
    """Where an episode stands in its run: the run's length and schedule enter a program as
    these values, not as constants, so one compiled chunk serves runs of any length, any
    ``episodes_before_train`` and any ``eval_every``. Every field has the same shape: () for
    one episode, (T,) for a chunk's scan."""

    episode: chex.Array  # int32: the 0-based episode index
    active: chex.Array  # bool: a real episode (False: padding past the run's last episode)
    trains: chex.Array  # bool: a train step follows the episode (more than episodes_before_train done)
    evaluates: chex.Array  # bool: greedy evaluation follows (every eval_every episodes and after the last)

    @property
    def number(self) -> chex.Array:
        """Episodes completed, counting this one (1-based)."""
        return self.episode + 1


def episode_clock(config: TrainConfig, episodes) -> EpisodeClock:
    """The clock of the 0-based ``episodes`` (int array of any shape) of a run of ``config``."""
    episode = jnp.asarray(episodes, jnp.int32)
    number = episode + 1
    return EpisodeClock(
        episode=episode,
        active=episode < config.episodes,
        trains=number > config.episodes_before_train,
        evaluates=(number % config.eval_every == 0) | (number == config.episodes),
    )


def assemble_trainer(
    init: Callable, run_episode: Callable, act: Callable, evaluate: Callable, config: TrainConfig
) -> Trainer:
    """The ``Trainer`` of a program from its ``init``, ``run_episode(state, clock, hparams)``,
    greedy ``act`` and ``evaluate`` (the greedy evaluation ``run_episode`` reports, as the
    schema's evaluation metrics): ``run_episodes`` scans ``run_episode`` over a chunk's clocks
    (``scan_episodes``), ``train`` runs every episode from ``init``; each is traced at
    ``config.matmul_precision``."""

    def train(key: chex.PRNGKey, hparams: HyperParams):
        clocks = episode_clock(config, jnp.arange(config.episodes))
        return scan_episodes(run_episode, init(key, hparams), clocks, hparams)

    return Trainer(
        *(
            numerics.with_matmul_precision(function, config.matmul_precision)
            for function in (init, run_episode, functools.partial(scan_episodes, run_episode), train, act, evaluate)
        )
    )


def scan_episodes(run_episode: Callable, state, clocks: EpisodeClock, hparams):
    """``lax.scan`` of ``run_episode(state, clock, hparams)`` over ``clocks`` (unbatched, (T,)).
    Inactive episodes are padding: state unchanged, NaN metrics."""

    def run_or_pad(state, clock):
        run, shapes = traced_once(run_episode, state, clock, hparams)
        pad_metrics = nan_like(shapes[1])
        return jax.lax.cond(clock.active, run, lambda s, *_: (s, pad_metrics), state, clock, hparams)

    return jax.lax.scan(run_or_pad, state, clocks)
