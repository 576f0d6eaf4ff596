"""The optimiser steps both learners share: Adam, gradient clipping by L2 norm (each
agent's own, or the whole tree's) and the stacked actors' per-agent Adam step. Pure
functions of gradient trees; every threshold and rate may be traced."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jaxmadrl.agents import diagnostics
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.networks import layer_names


def adam(learning_rate) -> optax.GradientTransformation:
    """Adam (β1 0.9, β2 0.999, eps 1e-8); the learning rate may be a traced value."""
    return optax.adam(learning_rate)


def adam_states(actor_params, critic_params):
    """Fresh Adam states → (one per actor, stacked on the actors' leading axis N; the
    critic's). Adam's state does not depend on the learning rate: any value builds it."""
    return jax.vmap(adam(1.0).init)(actor_params), adam(1.0).init(critic_params)


def clip_per_agent(grads, threshold):
    """Scales each agent's gradient (leading axis N) to L2 norm ≤ threshold, separately."""
    squares = sum(jnp.sum(jnp.square(g).reshape(g.shape[0], -1), axis=1) for g in jax.tree.leaves(grads))
    norm = jnp.sqrt(squares)
    scale = jnp.where(norm > threshold, threshold / norm, 1.0)  # exactly 1 unless clipping
    return jax.tree.map(lambda g: g * scale.reshape((-1,) + (1,) * (g.ndim - 1)), grads)


def clip_global(grads, threshold):
    """Scales the whole gradient to L2 norm ≤ threshold."""
    norm = diagnostics.tree_norm(grads)
    scale = jnp.where(norm > threshold, threshold / norm, 1.0)
    return jax.tree.map(lambda g: g * scale, grads)


def actor_step(params, opt_state, clipped_grads, hparams: HyperParams):
    """Stacked actors (leading axis N) → (params, Adam states) after each actor's own Adam
    on its (already clipped) gradient; the output layer's step is scaled by
    ``output_lr_multiplier``."""
    updates, opt_state = jax.vmap(adam(hparams.actor_lr).update)(clipped_grads, opt_state, params)
    output_layer = layer_names(params)[-1]
    layers = dict(updates["params"])
    layers[output_layer] = jax.tree.map(lambda u: u * hparams.output_lr_multiplier, layers[output_layer])
    return optax.apply_updates(params, {**updates, "params": layers}), opt_state
