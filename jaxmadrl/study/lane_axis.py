"""Trees with a leading lane axis G — a sweep's states, hyperparameters and metrics — cut
into blocks of consecutive lanes for the calls of a compiled program, and joined back on the
host. Kept apart from ``grid`` so that reading a run's files needs none of the programs."""

from __future__ import annotations

import jax
import numpy as np

from jaxmadrl.core.keys import is_key
from jaxmadrl.core.limits import SettingError


def check_lanes_per_call(n_lanes: int, lanes_per_call: int) -> None:
    """SettingError("lanes_per_call", …) unless it divides the lanes."""
    if not 1 <= lanes_per_call <= n_lanes or n_lanes % lanes_per_call:
        divisors = [d for d in range(1, n_lanes + 1) if n_lanes % d == 0]
        raise SettingError("lanes_per_call", f"must divide the {n_lanes} lanes ({divisors}), got {lanes_per_call}")


def split_lanes(tree, lanes_per_call: int) -> list:
    """A tree with leading lane axis G → G / lanes_per_call trees of consecutive lanes."""
    n_lanes = jax.tree.leaves(tree)[0].shape[0]
    check_lanes_per_call(n_lanes, lanes_per_call)
    return [
        jax.tree.map(lambda x: x[start : start + lanes_per_call], tree) for start in range(0, n_lanes, lanes_per_call)
    ]


def join_lanes(blocks: list, axis: int = 0):
    """The inverse of ``split_lanes`` on host: NumPy leaves (keys stay keys), the blocks'
    lane axes (at ``axis``) concatenated."""

    def join(*leaves):
        if is_key(leaves[0]):
            return jax.random.wrap_key_data(np.concatenate([jax.random.key_data(x) for x in leaves], axis))
        return np.concatenate([np.asarray(x) for x in leaves], axis)

    return jax.tree.map(join, *blocks)
