"""The part of the numerics policy that XLA reads from ``XLA_FLAGS``: deterministic GPU
reductions and scatters (``--xla_gpu_deterministic_ops=true``) unless the user opts out.
XLA reads ``XLA_FLAGS`` once, when its first backend starts, so the request must come
before any computation. Standard library only: the package asks before JAX is imported."""

from __future__ import annotations

import os
import sys

DETERMINISTIC_GPU_FLAG = "--xla_gpu_deterministic_ops=true"


def backends_started() -> bool:
    """Whether XLA has started a backend (after which ``XLA_FLAGS`` is no longer read)."""
    if "jax" not in sys.modules:
        return False
    from jax._src import xla_bridge  # no public query exists; only read, never changed

    return xla_bridge.backends_are_initialized()


def request_deterministic_gpu_ops(enabled: bool = True) -> None:
    """Sets ``--xla_gpu_deterministic_ops`` in ``XLA_FLAGS`` to ``enabled``, in place if it is
    there. RuntimeError if that changes the flags after a backend started (XLA would not
    see it)."""
    wanted = f"--xla_gpu_deterministic_ops={'true' if enabled else 'false'}"
    current = os.environ.get("XLA_FLAGS", "").split()
    updated = [wanted if flag.startswith("--xla_gpu_deterministic_ops") else flag for flag in current]
    if wanted not in updated:
        updated.append(wanted)
    if updated == current:
        return
    if backends_started():
        raise RuntimeError("the deterministic-ops setting must be made before JAX starts a backend")
    os.environ["XLA_FLAGS"] = " ".join(updated)


def deterministic_gpu_ops() -> bool:
    """Whether ``XLA_FLAGS`` asks for deterministic GPU ops (XLA:CPU is deterministic anyway)."""
    return DETERMINISTIC_GPU_FLAG in os.environ.get("XLA_FLAGS", "").split()
