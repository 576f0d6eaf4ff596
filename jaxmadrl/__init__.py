"""jaxmadrl: vectorised JAX Client-Master multi-agent deep RL for mobile-edge-computing offloading.

Importing it asks XLA for deterministic GPU reductions and scatters (the numerics policy,
``jaxmadrl.numerics``) unless ``XLA_FLAGS`` already says either way or a JAX backend has
already started; set ``XLA_FLAGS=--xla_gpu_deterministic_ops=false`` to opt out.
"""
import os as _os

if "--xla_gpu_deterministic_ops" not in _os.environ.get("XLA_FLAGS", ""):
    from jaxmadrl import numerics as _numerics

    if not _numerics.backends_started():
        _numerics.request_deterministic_gpu_ops(True)
