"""What every learner's training program is built from: the ``Trainer`` of pure functions,
its assembly from ``init`` and ``run_episode``, the scan over a chunk of episodes with its
padding, and the evaluation schedule."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.extend
import jax.numpy as jnp

from jaxmadrl.agents.config import HyperParams, TrainConfig
from jaxmadrl.agents.networks import Networks, make_networks
from jaxmadrl.core import numerics


class Trainer(NamedTuple):
    init: Callable
    run_episode: Callable
    run_episodes: Callable
    train: Callable


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
        config.env.n_agents, config.actor_hidden, config.critic_hidden, hidden_norms=config.hidden_norm_layers
    )


def assemble_trainer(init: Callable, run_episode: Callable, config: TrainConfig) -> Trainer:
    """The ``Trainer`` of a program from its ``init`` and ``run_episode``: ``run_episodes``
    scans ``run_episode`` (``scan_episodes``), ``train`` runs every episode from ``init``;
    each is traced at ``config.matmul_precision``."""

    def run_episodes(state, episodes: chex.Array, hparams: HyperParams):
        return scan_episodes(run_episode, state, episodes, hparams, config.episodes)

    def train(key: chex.PRNGKey, hparams: HyperParams):
        return run_episodes(init(key, hparams), jnp.arange(config.episodes, dtype=jnp.int32), hparams)

    return Trainer(
        *(
            numerics.with_matmul_precision(function, config.matmul_precision)
            for function in (init, run_episode, run_episodes, train)
        )
    )


def evaluates(config: TrainConfig, episode_number: chex.Array) -> chex.Array:
    """Whether greedy evaluation follows the ``episode_number``-th (1-based) episode: every
    ``eval_every`` episodes and after the last."""
    return (episode_number % config.eval_every == 0) | (episode_number == config.episodes)


def scan_episodes(run_episode: Callable, state, episodes: chex.Array, hparams, total_episodes: int):
    """``lax.scan`` of ``run_episode(state, episode, hparams)`` over ``episodes`` (unbatched
    int32). Indices ≥ ``total_episodes`` are padding: state unchanged, NaN metrics."""

    def run_or_pad(state, episode):
        run, shapes = traced_once(run_episode, state, episode, hparams)
        pad_metrics = nan_like(shapes[1])
        return jax.lax.cond(episode < total_episodes, run, lambda s, *_: (s, pad_metrics), state, episode, hparams)

    return jax.lax.scan(run_or_pad, state, episodes)
