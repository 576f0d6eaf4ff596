"""In-graph instrumentation: gradient norms, output saturation, weight change, stopping.

All functions are pure and cheap; they run inside the compiled training program once per
train step. Layers are the networks' dense layers ``fc1 … fcK`` (``networks.layer_names``).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from flax import struct

from jaxmadrl.agents.networks import layer_names

# An output is saturated when its magnitude exceeds 0.9 of the bound 1 (for tanh:
# |z| > atanh(0.9) ≈ 1.472).
SATURATION_LEVEL = 0.9
NEVER = -1  # episode sentinel: the event did not happen


def actor_grad_norms(actor_grads) -> chex.Array:
    """Per-agent, per-layer L2 norms of stacked actor gradients → (N, L)."""
    per_layer = []
    for name in layer_names(actor_grads):
        leaves = jax.tree.leaves(actor_grads["params"][name])
        per_layer.append(sum(jnp.sum(jnp.square(leaf).reshape(leaf.shape[0], -1), axis=1) for leaf in leaves))
    return jnp.sqrt(jnp.stack(per_layer, axis=-1))


def actor_total_norms(actor_grads, layer_norms: chex.Array) -> chex.Array:
    """(N,) L2 norm of each agent's whole gradient: its dense layers' norms ``layer_norms``
    (N, L) together with every other parameter (the optional output LayerNorm's), the
    same parameters the per-actor gradient clip measures."""
    dense = set(layer_names(actor_grads))
    others = [
        leaf for name, layer in actor_grads["params"].items() if name not in dense for leaf in jax.tree.leaves(layer)
    ]
    # Other parameters whose gradient is exactly 0 (LayerNorm off) add exactly 0.
    other_squares = sum(jnp.sum(jnp.square(leaf).reshape(leaf.shape[0], -1), axis=1) for leaf in others)
    return jnp.sqrt(jnp.sum(jnp.square(layer_norms), axis=-1) + other_squares)


def critic_grad_norms(critic_grads) -> chex.Array:
    """Per-layer L2 norms of the critic gradient → (L,)."""
    return jnp.sqrt(
        jnp.stack(
            [
                sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree.leaves(critic_grads["params"][name]))
                for name in layer_names(critic_grads)
            ]
        )
    )


def actor_gradient_metrics(actor_grads) -> dict[str, chex.Array]:
    """The stacked actors' gradient norms: per layer and in total, RMS over agents, and
    each agent's total."""
    layers = actor_grad_norms(actor_grads)
    totals = actor_total_norms(actor_grads, layers)
    return {
        "actor_grad_norm": rms_over_agents(totals),
        "actor_grad_norm_layers": rms_over_agents(layers),
        "actor_grad_norm_agents": totals,
    }


def tree_norm(tree) -> chex.Array:
    """L2 norm over every leaf of a tree → scalar."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree.leaves(tree)))


def rms_over_agents(norms: chex.Array) -> chex.Array:
    """(N, ...) norms → (...) root mean square over agents."""
    return jnp.sqrt(jnp.mean(jnp.square(norms), axis=0))


def total_norm(layer_norms: chex.Array) -> chex.Array:
    """(..., L) per-layer norms → (...) norm over all layers."""
    return jnp.sqrt(jnp.sum(jnp.square(layer_norms), axis=-1))


def gradient_ratio(actor_norm: chex.Array, critic_norm: chex.Array) -> chex.Array:
    """ρ = actor / critic gradient norm (same shapes): 0 wherever the actor gradient is 0,
    the critic's included (0/0 is "no actor gradient", not NaN); inf where only the critic
    gradient is 0."""
    safe_critic = jnp.where(critic_norm > 0, critic_norm, 1.0)
    return jnp.where(actor_norm > 0, jnp.where(critic_norm > 0, actor_norm / safe_critic, jnp.inf), 0.0)


def preactivation_stats(z: chex.Array, outputs: chex.Array) -> dict[str, chex.Array]:
    """Statistics of actor output pre-activations z and of the outputs (same shape, any)
    of the output activation in use → dict of scalars.

    ``saturation``: fraction of outputs with |output| > ``SATURATION_LEVEL``;
    ``tanh_saturation``: the same fraction for tanh(z), whatever activation is in use (the
    paper's measure; equal to ``saturation`` for tanh actors); ``output_mean``/``min``/``max``:
    of the outputs (the reference logs them for tanh).
    """
    return {
        "preact_mean": jnp.mean(z),
        "preact_std": jnp.std(z),
        "preact_min": jnp.min(z),
        "preact_max": jnp.max(z),
        "saturation": jnp.mean(jnp.abs(outputs) > SATURATION_LEVEL),
        "tanh_saturation": jnp.mean(jnp.abs(jnp.tanh(z)) > SATURATION_LEVEL),
        "preact_abs_gt2": jnp.mean(jnp.abs(z) > 2.0),
        "output_mean": jnp.mean(outputs),
        "output_min": jnp.min(outputs),
        "output_max": jnp.max(outputs),
        "output_head_mean": jnp.mean(outputs.reshape(-1, outputs.shape[-1]), axis=0),
    }


def max_abs_change_per_agent(old_params, new_params) -> chex.Array:
    """Stacked actor params before/after → (N,) max |Δθ| over each agent's parameters."""
    per_leaf = [
        jnp.max(jnp.abs(new - old).reshape(new.shape[0], -1), axis=1)
        for old, new in zip(jax.tree.leaves(old_params), jax.tree.leaves(new_params))
    ]
    return jnp.max(jnp.stack(per_leaf), axis=0)


def max_abs_change(old_params, new_params) -> chex.Array:
    """Params before/after → scalar max |Δθ| over all parameters."""
    return jnp.max(
        jnp.stack(
            [jnp.max(jnp.abs(new - old)) for old, new in zip(jax.tree.leaves(old_params), jax.tree.leaves(new_params))]
        )
    )


@struct.dataclass
class StopTracker:
    """When weights stopped changing. Episodes are counted from 1 (episodes completed).

    first_unchanged: first train episode with bit-for-bit unchanged weights, or NEVER.
    last_changed: last train episode with a change (``episodes_before_train`` if none).
    Actor fields are (N,), critic fields scalars; all int32.
    """

    actor_first_unchanged: chex.Array
    actor_last_changed: chex.Array
    critic_first_unchanged: chex.Array
    critic_last_changed: chex.Array


def init_stop_tracker(n_agents: int, episodes_before_train: int) -> StopTracker:
    before = jnp.int32(episodes_before_train)
    return StopTracker(
        actor_first_unchanged=jnp.full((n_agents,), NEVER, jnp.int32),
        actor_last_changed=jnp.full((n_agents,), before, jnp.int32),
        critic_first_unchanged=jnp.int32(NEVER),
        critic_last_changed=before,
    )


def _track(first_unchanged, last_changed, episode, change):
    # NaN weights are not bit-for-bit equal to anything: a NaN change counts as a change.
    changed = change != 0
    first_unchanged = jnp.where((first_unchanged == NEVER) & ~changed, episode, first_unchanged)
    last_changed = jnp.where(changed, episode, last_changed)
    return first_unchanged, last_changed


def update_stop_tracker(
    tracker: StopTracker, episode: chex.Array, actor_change: chex.Array, critic_change: chex.Array
) -> StopTracker:
    """Records one train step: ``episode`` (1-based), (N,) and scalar max |Δθ|."""
    actor_first, actor_last = _track(tracker.actor_first_unchanged, tracker.actor_last_changed, episode, actor_change)
    critic_first, critic_last = _track(
        tracker.critic_first_unchanged, tracker.critic_last_changed, episode, critic_change
    )
    return StopTracker(actor_first, actor_last, critic_first, critic_last)


def stopping_summary(tracker: StopTracker, episodes_done) -> dict[str, chex.Array]:
    """Stopping episodes derived from a tracker after ``episodes_done`` episodes.

    all_actors_stopped: the episode by which every actor had stopped at least once.
    *_never_again: the first episode from which the weights never changed again.
    NEVER (-1) where the event did not happen.
    """
    first = tracker.actor_first_unchanged
    all_stopped = jnp.where(jnp.all(first != NEVER), jnp.max(first), NEVER)

    def never_again(last_changed):
        return jnp.where(last_changed < episodes_done, last_changed + 1, NEVER)

    return {
        "actor_first_unchanged": first,
        "actor_never_again": never_again(tracker.actor_last_changed),
        "all_actors_stopped": all_stopped,
        "critic_first_unchanged": tracker.critic_first_unchanged,
        "critic_never_again": never_again(tracker.critic_last_changed),
    }
