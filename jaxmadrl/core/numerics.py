"""The numerics policy, the same on every backend, and what it measures of the backend.

The study counts exact zeros (weights left bit-for-bit unchanged, derivatives that round to
0), so float32 arithmetic is chosen, not inherited:
- matrix products at ``"highest"`` precision by default: full float32. JAX's default on
  NVIDIA Ampere/Hopper GPUs would be TF32 (about 1e-3 relative); on the CPU both are full
  float32. ``"high"`` and ``"default"`` are opt-ins to faster, less exact modes.
- deterministic GPU reductions and scatters (``--xla_gpu_deterministic_ops=true``), unless
  the user opts out. XLA reads ``XLA_FLAGS`` once, when its first backend starts, so the
  request must come before any computation.
- the saturation edge: the float32 z nearest to 0 on either side at which the output
  activation's derivative, as the running backend computes it, is exactly 0. XLA's
  ``tanh`` is an approximation whose edge differs between backends (|z| ≈ 7.9988 on
  XLA:CPU; a correctly rounded tanh reaches 1.0 only near 9.01), and a stopping episode
  depends on it.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxmadrl.core.activations import ACTIVATION_NAMES, apply_output_activation
from jaxmadrl.core.limits import SettingError

MATMUL_PRECISIONS = ("highest", "high", "default")
DEFAULT_MATMUL_PRECISION = "highest"


def check_matmul_precision(precision: str) -> str:
    if precision not in MATMUL_PRECISIONS:
        raise SettingError("matmul_precision", f"must be one of {list(MATMUL_PRECISIONS)}, got {precision!r}")
    return precision


def with_matmul_precision(function: Callable, precision: str) -> Callable:
    """``function`` traced with every float32 matrix product at ``precision`` (the setting is
    read while tracing, so it holds however the result is later jitted or vmapped)."""
    check_matmul_precision(precision)

    @functools.wraps(function)
    def traced_at_precision(*args, **kwargs):
        with jax.default_matmul_precision(precision):
            return function(*args, **kwargs)

    return traced_at_precision


# ----------------------------------------------------------------------------- saturation edge

_POSITIVE_FLOAT32_BITS = (1, int(np.float32(np.finfo(np.float32).max).view(np.int32)))


def _derivative(code: int) -> Callable:
    """d/dz of the output activation ``code``, element-wise over a vector of z."""
    return jax.vmap(jax.grad(lambda z: apply_output_activation(z, jnp.int32(code))))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _first_zero_derivative_bits(code: int, sign: float) -> jax.Array:
    """Bisection over the bit patterns of positive float32 |z| (ordered like the values) for
    the first |z| at which the derivative at sign·|z| is 0; returns that bit pattern, or the
    largest finite float's pattern + 1 if there is none."""
    derivative = _derivative(code)

    def vanishes(bits):
        magnitude = jax.lax.bitcast_convert_type(bits, jnp.float32)
        return derivative(sign * magnitude[None])[0] == 0

    def halve(bounds):
        low, high = bounds  # non-zero below ``low``; zero at ``high`` (or high = past the end)
        middle = low + (high - low) // 2
        return jax.lax.cond(vanishes(middle), lambda: (low, middle), lambda: (middle + 1, high))

    low, high = jnp.int32(_POSITIVE_FLOAT32_BITS[0]), jnp.int32(_POSITIVE_FLOAT32_BITS[1] + 1)
    return jax.lax.while_loop(lambda bounds: bounds[0] < bounds[1], halve, (low, high))[0]


def saturation_edge(activation: str) -> list[float | None]:
    """[lower, upper]: the float32 z nearest to 0 on either side at which the derivative of
    the output ``activation``, as the default backend computes it, is exactly 0 (None on a
    side where it is non-zero for every finite z). Outside [lower, upper] it stays 0.

    Found by bisection, which assumes the derivative stays 0 beyond the edge; the 4096
    floats on either side of each edge are checked directly, and a ValueError says if they
    disagree."""
    code = ACTIVATION_NAMES.index(activation)
    edges = []
    for sign in (-1.0, 1.0):
        bits = int(_first_zero_derivative_bits(code, sign))
        if bits > _POSITIVE_FLOAT32_BITS[1]:
            edges.append(None)
            continue
        window = np.arange(max(bits - 4096, 1), bits + 4096, dtype=np.int32)
        zero = np.asarray(_derivative(code)(sign * jnp.asarray(window.view(np.float32))) == 0)
        if not np.array_equal(zero, window >= bits):
            raise ValueError(
                f"the derivative of {activation} does not stay 0 beyond z = "
                f"{sign * float(window.view(np.float32)[0]):g}"
            )
        edges.append(sign * float(np.int32(bits).view(np.float32)))
    return edges


def describe_edge(activation: str, edge: list[float | None]) -> str:
    """ "tanh derivative 0 from |z| = 7.99881", or each side where they differ."""
    lower, upper = edge
    if lower is not None and upper is not None and lower == -upper:
        return f"{activation} derivative 0 from |z| = {upper:.6g}"
    sides = [f"z <= {lower:.6g}" if lower is not None else None, f"z >= {upper:.6g}" if upper is not None else None]
    shown = " and ".join(side for side in sides if side)
    return f"{activation} derivative 0 for {shown}" if shown else f"{activation} derivative never 0"


def saturation_edges() -> dict[str, list[float | None]]:
    """``saturation_edge`` of every output activation, by name."""
    return {name: saturation_edge(name) for name in ACTIVATION_NAMES}
