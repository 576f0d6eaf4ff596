"""The actors' running input statistics against a plain loop, and the normalisation switch."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxmadrl.agents import normalisation

N, OBS = 3, 7


def plain_running_stats(batches):
    """The reference's running normalisation, one update per batch (B, N, 7), in float64:
    mean ← 0.99·mean + 0.01·batch mean; var ← 0.99·var + 0.01·biased batch variance."""
    mean, var = np.zeros((N, OBS)), np.ones((N, OBS))
    for batch in batches:
        batch = np.asarray(batch, np.float64)
        mean = 0.99 * mean + 0.01 * batch.mean(0)
        var = 0.99 * var + 0.01 * ((batch - batch.mean(0)) ** 2).mean(0)
    return mean, var


def test_input_stats_follow_the_running_update():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, (size, N, OBS)).astype(np.float32) for size in (1, 64, 1, 1, 32)]
    stats = normalisation.init_input_stats(N, OBS)
    update = jax.jit(normalisation.update_input_stats)
    for batch in batches:
        stats = update(stats, jnp.asarray(batch))
    mean, var = plain_running_stats(batches)
    np.testing.assert_allclose(stats.mean, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats.var, var, rtol=1e-5)
    # A batch of one sample has no spread: it only shrinks the variance.
    one = update(stats, jnp.asarray(batches[0]))
    np.testing.assert_allclose(one.var, 0.99 * np.asarray(stats.var), rtol=1e-6)


def test_normalised_input_only_when_enabled():
    rng = np.random.default_rng(1)
    stats = normalisation.InputStats(
        mean=jnp.asarray(rng.normal(size=(N, OBS)), jnp.float32),
        var=jnp.asarray(rng.uniform(0.1, 4.0, (N, OBS)), jnp.float32),
    )
    obs = jnp.asarray(rng.normal(size=(5, N, OBS)), jnp.float32)
    off = normalisation.normalised_input(stats, obs, jnp.float32(0.0))
    np.testing.assert_array_equal(off, obs)
    on = normalisation.normalised_input(stats, obs, jnp.float32(1.0))
    expected = (np.asarray(obs, np.float64) - np.asarray(stats.mean)) / (np.sqrt(np.asarray(stats.var)) + 1e-5)
    np.testing.assert_allclose(on, expected, rtol=1e-5, atol=1e-6)
