"""The output activations an actor may end in, by name and by traced code."""

from __future__ import annotations

from typing import Callable

import chex
import jax
import jax.numpy as jnp

OUTPUT_ACTIVATIONS: dict[str, Callable[[chex.Array], chex.Array]] = {
    "tanh": jnp.tanh,
    "softsign": lambda z: z / (1.0 + jnp.abs(z)),
    "hardtanh": lambda z: jnp.clip(z, -1.0, 1.0),
    "sigmoid2": lambda z: 2.0 * jax.nn.sigmoid(z) - 1.0,
}


ACTIVATION_NAMES = tuple(OUTPUT_ACTIVATIONS)  # position = the traced activation code


def activation_code(name: str) -> int:
    if name not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"output_activation must be one of {list(ACTIVATION_NAMES)}, got {name!r}")
    return ACTIVATION_NAMES.index(name)


def apply_output_activation(z: chex.Array, code: chex.Array) -> chex.Array:
    """The activation ``ACTIVATION_NAMES[code]`` of z; ``code`` may be traced (a real branch
    when it is the same for the whole program, a select when vmapped over configurations)."""
    return jax.lax.switch(code, [OUTPUT_ACTIVATIONS[name] for name in ACTIVATION_NAMES], z)
