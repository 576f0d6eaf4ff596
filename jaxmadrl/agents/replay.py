"""Proportional prioritised experience replay as pure JAX functions.

The buffer is a pytree (``ReplayBuffer``) holding a fixed-capacity ring of
items plus one priority per slot. Every function is jittable and vmappable, so
many independent buffers (e.g. one per learning-rate configuration) can be
driven in lockstep with ``jax.vmap``. Capacity and batch size are static
Python ints; hyperparameters live in a static, hashable ``ReplayConfig``.

Sampling is stratified and proportional to priority: the total priority mass
is cut into ``batch_size`` equal segments, one uniform target is drawn per
segment, and the first slot whose cumulative priority reaches the target is
selected (one ``cumsum`` + ``searchsorted`` per call, no sum tree).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import chex
import jax
import jax.numpy as jnp
from flax import struct

PyTree = Any


@dataclasses.dataclass(frozen=True)
class ReplayConfig:
    """Static prioritised-replay hyperparameters (dimensionless).

    Attributes:
      alpha: priority exponent; priority = (|error| + eps) ** alpha.
      eps: offset keeping every stored entry's priority strictly positive.
      beta_start: initial importance-sampling exponent.
      beta_increment: amount added to beta at the start of every ``sample``
        call; beta is capped at 1.
    """

    alpha: float = 0.6
    eps: float = 0.01
    beta_start: float = 0.4
    beta_increment: float = 0.001


@struct.dataclass
class ReplayBuffer:
    """Ring buffer of items with per-slot priorities.

    Attributes:
      items: pytree like the stored item with a leading capacity axis C;
        zero-filled until written.
      priorities: float32 (C,); 0 for slots that were never written.
      position: int32 scalar, slot the next ``add`` writes to.
      size: int32 scalar, number of written slots (at most C).
      beta: float32 scalar, importance-sampling exponent used by the last
        ``sample`` call (``config.beta_start`` before the first call).
      config: static hyperparameters (not a pytree leaf, never vmapped).
    """

    items: PyTree
    priorities: jax.Array
    position: jax.Array
    size: jax.Array
    beta: jax.Array
    config: ReplayConfig = struct.field(pytree_node=False)

    @property
    def capacity(self) -> int:
        return self.priorities.shape[0]


def priority_from_error(error: jax.Array, config: ReplayConfig) -> jax.Array:
    """Maps errors of any shape to priorities (|error| + eps) ** alpha, float32."""
    return (jnp.abs(error).astype(jnp.float32) + config.eps) ** config.alpha


def init_replay(
    example_item: PyTree,
    capacity: int = 10_000,
    config: ReplayConfig = ReplayConfig(),
) -> ReplayBuffer:
    """Creates an empty buffer able to hold ``capacity`` items.

    Args:
      example_item: pytree of arrays with the shapes and dtypes of one item
        (its values are ignored).
      capacity: number of slots C, a static Python int.
      config: static hyperparameters.

    Returns:
      A ``ReplayBuffer`` whose item leaves have shape (C, *leaf.shape) and are
      zero-filled, with all priorities 0, position 0, size 0 and
      beta = ``config.beta_start``.
    """
    if capacity <= 0:
        raise ValueError(f"capacity must be positive, got {capacity}")
    items = jax.tree.map(
        lambda leaf: jnp.zeros((capacity,) + jnp.shape(leaf), jnp.asarray(leaf).dtype),
        example_item,
    )
    return ReplayBuffer(
        items=items,
        priorities=jnp.zeros((capacity,), jnp.float32),
        position=jnp.zeros((), jnp.int32),
        size=jnp.zeros((), jnp.int32),
        beta=jnp.asarray(config.beta_start, jnp.float32),
        config=config,
    )


def add(state: ReplayBuffer, item: PyTree, error: jax.Array) -> ReplayBuffer:
    """Writes one item (no leading axis) with a scalar error; see ``add_batch``."""
    chex.assert_shape(error, ())
    return add_batch(state, jax.tree.map(lambda leaf: jnp.asarray(leaf)[None], item), error[None])


def add_batch(state: ReplayBuffer, items: PyTree, errors: jax.Array) -> ReplayBuffer:
    """Writes T items in order, as T calls of ``add`` would, overwriting the oldest when full.

    Args:
      state: buffer with capacity C.
      items: pytree with the structure of the stored items, each leaf with a leading
        axis T <= C followed by the stored leaf shape without the C axis.
      errors: (T,) errors (e.g. TD errors) whose magnitudes set the priorities.

    Returns:
      The buffer with the items and their priorities stored, position advanced by T
      modulo C and size = min(size + T, C).
    """
    chex.assert_trees_all_equal_structs(items, state.items)
    n_items = errors.shape[0]
    chex.assert_shape(errors, (n_items,))
    for stored_leaf, item_leaf in zip(jax.tree.leaves(state.items), jax.tree.leaves(items)):
        chex.assert_shape(item_leaf, (n_items,) + stored_leaf.shape[1:])
    if n_items > state.capacity:
        raise ValueError(f"cannot add {n_items} items to a buffer of capacity {state.capacity}")

    slots = (state.position + jnp.arange(n_items)) % state.capacity
    items = jax.tree.map(lambda stored, new: stored.at[slots].set(new), state.items, items)
    priorities = state.priorities.at[slots].set(priority_from_error(errors, state.config))
    return state.replace(
        items=items,
        priorities=priorities,
        position=(state.position + n_items) % state.capacity,
        size=jnp.minimum(state.size + n_items, state.capacity),
    )


def stratified_indices(cumulative_priorities: jax.Array, size: jax.Array, uniforms: jax.Array) -> jax.Array:
    """Picks one slot per equal segment of the total priority mass.

    Args:
      cumulative_priorities: float32 (C,), ``cumsum`` of the slot priorities
        (flat beyond the written slots, whose priority is 0).
      size: int32 scalar, number of written slots; must be at least 1.
      uniforms: float32 (B,), position of each target inside its segment, in
        [0, 1).

    Returns:
      int32 (B,) slot indices: for target s_i = (i + uniforms[i]) * total / B,
      the first slot whose cumulative priority is >= s_i, clipped to
      [0, size - 1] so float rounding at the top of the range can never
      select an unwritten slot.
    """
    chex.assert_rank([cumulative_priorities, size, uniforms], [1, 0, 1])
    batch_size = uniforms.shape[0]
    segment = cumulative_priorities[-1] / batch_size
    targets = (jnp.arange(batch_size, dtype=jnp.float32) + uniforms) * segment
    indices = jnp.searchsorted(cumulative_priorities, targets, side="left")
    return jnp.clip(indices, 0, size - 1).astype(jnp.int32)


def sample(state: ReplayBuffer, key: jax.Array, batch_size: int) -> tuple[ReplayBuffer, PyTree, jax.Array, jax.Array]:
    """Anneals beta, then draws a stratified, priority-proportional batch.

    The buffer must hold at least one item.

    Args:
      state: buffer with capacity C.
      key: PRNG key.
      batch_size: static Python int B.

    Returns:
      new_state: ``state`` with beta := min(1, beta + beta_increment); the
        annealed beta is the one used for the weights below.
      batch: pytree of stored items gathered at ``indices``, each leaf with
        leading axis B.
      indices: int32 (B,) slot indices, all < size.
      weights: float32 (B,) importance-sampling weights
        (size * P(i)) ** -beta with P(i) = p_i / sum(p), divided by their
        batch maximum so the largest is 1.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    chex.assert_rank(state.priorities, 1)

    beta = jnp.minimum(1.0, state.beta + state.config.beta_increment)
    uniforms = jax.random.uniform(key, (batch_size,), jnp.float32)
    cumulative_priorities = jnp.cumsum(state.priorities)
    indices = stratified_indices(cumulative_priorities, state.size, uniforms)

    probabilities = state.priorities[indices] / cumulative_priorities[-1]
    weights = (state.size.astype(jnp.float32) * probabilities) ** -beta
    weights = weights / jnp.max(weights)

    batch = jax.tree.map(lambda stored: stored[indices], state.items)
    chex.assert_shape([indices, weights], (batch_size,))
    return state.replace(beta=beta), batch, indices, weights


def sample_uniform(state: ReplayBuffer, key: jax.Array, batch_size: int) -> PyTree:
    """Draws ``batch_size`` written items uniformly, with replacement (priorities and beta
    unused and unchanged): the plain replay of DDPG. The buffer must hold at least one item.

    Returns:
      A pytree like the stored items with a leading axis ``batch_size``.
    """
    indices = jax.random.randint(key, (batch_size,), 0, state.size)
    return jax.tree.map(lambda stored: stored[indices], state.items)


def last_occurrences(indices: jax.Array, capacity: int) -> jax.Array:
    """bool (B,): True where ``indices[b]`` does not occur again later in ``indices``.

    Found with a scatter-max of positions into C slots, whose result does not depend on
    the order in which duplicates are combined; O(B + C) memory."""
    positions = jnp.arange(indices.shape[0], dtype=jnp.int32)
    last = jnp.full((capacity,), -1, jnp.int32).at[indices].max(positions)
    return last[indices] == positions


def update_priorities(state: ReplayBuffer, indices: jax.Array, errors: jax.Array) -> ReplayBuffer:
    """Sets the priorities of ``indices`` to (|errors| + eps) ** alpha.

    Sampling is with replacement, so an index may repeat. The error at its last position
    in ``indices`` is kept, as setting the priorities one after another would do; the
    earlier duplicates are dropped before the scatter, whose order for duplicate indices
    XLA leaves unspecified (it differs between runs on a GPU).

    Args:
      state: buffer with capacity C.
      indices: int (B,) slot indices, e.g. as returned by ``sample``.
      errors: (B,) new errors for those slots.

    Returns:
      The buffer with only those slots' priorities changed.
    """
    chex.assert_rank(indices, 1)
    chex.assert_equal_shape([indices, errors])
    slots = jnp.where(last_occurrences(indices, state.capacity), indices, state.capacity)  # out of range: dropped
    priorities = state.priorities.at[slots].set(priority_from_error(errors, state.config), mode="drop")
    return state.replace(priorities=priorities)
