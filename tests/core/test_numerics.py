"""The numerics policy: matmul precision carried into the compiled program, the measured
saturation edge, and deterministic GPU ops requested before XLA starts."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmadrl.agents.scaffold import episode_clock
from jaxmadrl.core import numerics, xla_flags
from jaxmadrl.study import grid
from jaxmadrl.study.definition import SweepDefinition

TINY = dict(n_agents=3, steps_per_episode=3, episodes=4, chunk=2)


def lowered_chunk_text(precision: str) -> str:
    definition = SweepDefinition.from_dict(dict(name="t", actor_lrs=(1e-3, 1e-1), critic_lrs=(1e-2,), **TINY))
    program = grid.make_grid(definition.train_config(precision))
    hparams = definition.hyperparams()
    states = jax.eval_shape(program.init, definition.lane_keys(), hparams)
    return jax.jit(program.run_chunk).lower(states, episode_clock(definition.train, jnp.arange(2)), hparams).as_text()


@pytest.mark.parametrize("precision, operand_precision", [("highest", "HIGHEST"), ("default", "DEFAULT")])
def test_compiled_chunk_carries_the_matmul_precision(precision, operand_precision):
    """Every matrix product of the sweep's chunk program (acting, the train step with its
    critic and actor updates, evaluation) is lowered at the chosen precision."""
    dots = [line for line in lowered_chunk_text(precision).splitlines() if "stablehlo.dot_general" in line]
    assert len(dots) > 20
    assert all(f"precision = [{operand_precision}, {operand_precision}]" in line for line in dots)


def test_unknown_matmul_precision_is_refused():
    with pytest.raises(ValueError, match="matmul_precision must be one of"):
        SweepDefinition.from_dict(dict(name="t", actor_lrs=(1e-3,), critic_lrs=(1e-3,), **TINY)).train_config("tf32")


def derivative(name: str, z: np.ndarray) -> np.ndarray:
    code = jnp.int32(numerics.ACTIVATION_NAMES.index(name))
    return np.asarray(jax.vmap(jax.grad(lambda x: numerics.apply_output_activation(x, code)))(jnp.asarray(z)))


@pytest.mark.parametrize("name", numerics.ACTIVATION_NAMES)
def test_saturation_edge_is_where_the_derivative_first_vanishes(name):
    lower, upper = numerics.saturation_edge(name)
    assert lower < 0 < upper  # every activation's float32 derivative vanishes on both sides
    assert np.all(derivative(name, np.float32([lower, 2 * lower, upper, 2 * upper])) == 0)
    inside = np.nextafter(np.float32([lower, upper]), np.float32(0))
    assert np.all(derivative(name, inside) != 0)


def test_saturation_edges_of_the_activations():
    edges = numerics.saturation_edges()
    # An approximated tanh rounds to ±1 well before the correctly rounded one (|z| ≈ 9.01).
    assert 7.5 < edges["tanh"][1] <= 9.02 and edges["tanh"][0] == -edges["tanh"][1]
    assert edges["hardtanh"][1] == np.nextafter(np.float32(1), np.float32(2))  # clip passes z = ±1 itself
    assert edges["softsign"][1] > 1e6  # only where 1 + |z| rounds to |z|, far past any pre-activation seen
    # 2·sigmoid(z) − 1 reaches 1 near z ≈ 17, while its derivative at −z underflows only near 87.
    assert edges["sigmoid2"][1] < 20 < 80 < -edges["sigmoid2"][0]
    assert numerics.describe_edge("tanh", edges["tanh"]) == f"tanh derivative 0 from |z| = {edges['tanh'][1]:.6g}"
    assert numerics.describe_edge("sigmoid2", edges["sigmoid2"]).startswith("sigmoid2 derivative 0 for z <= -")


def python_with(code: str, xla_flags: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    if xla_flags is not None:
        env["XLA_FLAGS"] = xla_flags
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout.strip()


def test_importing_the_package_asks_for_deterministic_gpu_ops():
    show = "import os, jaxmadrl; print(os.environ['XLA_FLAGS'])"
    assert python_with(show, None) == xla_flags.DETERMINISTIC_GPU_FLAG
    assert python_with(show, "--xla_cpu_max_isa=AVX2") == f"--xla_cpu_max_isa=AVX2 {xla_flags.DETERMINISTIC_GPU_FLAG}"
    # An explicit choice either way is left as it is.
    assert python_with(show, "--xla_gpu_deterministic_ops=false") == "--xla_gpu_deterministic_ops=false"
    # Once a backend runs, XLA_FLAGS is not read again: the package leaves it alone ...
    started = "import os, jax.numpy as jnp; jnp.zeros(1); import jaxmadrl; print(os.environ.get('XLA_FLAGS'))"
    assert python_with(started, None) == "None"


def test_changing_determinism_after_a_backend_started_is_refused():
    jnp.zeros(1).block_until_ready()
    assert xla_flags.backends_started()
    xla_flags.request_deterministic_gpu_ops(xla_flags.deterministic_gpu_ops())  # no change: fine
    with pytest.raises(RuntimeError, match="before JAX starts a backend"):
        xla_flags.request_deterministic_gpu_ops(not xla_flags.deterministic_gpu_ops())
