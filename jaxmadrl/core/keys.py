"""PRNG keys: a lane's key from its seed, and telling key arrays apart."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def seed_key(seed) -> chex.PRNGKey:
    """The run key of a seed (the same in the train and sweep programs)."""
    return jax.random.fold_in(jax.random.key(0), seed)


def is_key(leaf) -> bool:
    """Whether an array holds typed PRNG keys."""
    return jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)
