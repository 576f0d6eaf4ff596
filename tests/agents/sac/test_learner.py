"""SAC: its entropy-regularised target, actor loss and temperature loss against float64
versions (the log-density in its plain form), the fixed temperature, and its instruments."""

import jax
import numpy as np
import optax
from domain_configs import small_config
from plain_networks import actors64, random_batch, twins64

from jaxmadrl.agents import tanh_gaussian
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.sac import learner as sac

CONFIG = small_config("Pendulum-v1", learner="sac", tau=0.25)
HPARAMS = HyperParams(actor_lr=1e-2, critic_lr=1e-2, gamma=0.9, reward_scale=2.0, entropy_temperature=0.5)


def policy64(actor_params, obs, key):
    """(actions, joint log π (B,)) of the tanh-Gaussian policies in float64, the density
    written plainly: N(u; μ, σ) / (1 − tanh(u)²)."""
    z = actors64(actor_params, np.asarray(obs))
    mean, log_std = np.split(z, 2, axis=-1)
    log_std = np.clip(log_std, tanh_gaussian.LOG_STD_MIN, tanh_gaussian.LOG_STD_MAX)
    shock = np.float64(jax.random.normal(key, mean.shape))
    u = mean + np.exp(log_std) * shock
    std = np.exp(log_std)
    density = np.exp(-0.5 * ((u - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi)) / (1 - np.tanh(u) ** 2)
    return np.tanh(u), np.sum(np.log(density), axis=(1, 2))


def test_entropy_regularised_target_and_temperature_loss_in_float64():
    learner = sac.init_learner(jax.random.key(0), CONFIG, HPARAMS)
    batch, key = random_batch(jax.random.key(1)), jax.random.key(2)
    new, metrics = jax.jit(sac.update, static_argnums=4)(learner, batch, key, HPARAMS, CONFIG)
    k_target, k_actor = jax.random.split(key)

    # y = 2·r + 0.9·(1 − d)·(min_c Q'_c(s', a') − α·log π(a'|s')), a' ~ π(s'), α = 0.5
    next_actions, next_log_prob = policy64(learner.actor_params, batch.next_obs, k_target)
    next_q = twins64(learner.critic_target, np.asarray(batch.next_obs), next_actions).min(axis=0)
    targets = 2.0 * np.arange(8.0) + 0.9 * np.array([0.0, 1.0] * 4) * (next_q - 0.5 * next_log_prob)
    q = twins64(learner.critic_params, np.asarray(batch.obs), np.asarray(batch.actions))
    np.testing.assert_allclose(metrics["critic_loss"], np.sum(np.mean((q - targets) ** 2, axis=1)), rtol=1e-5)
    assert float(metrics["temperature"]) == np.float32(0.5)

    # log α's first Adam step moves it by temperature_lr against the sign of
    # d/d log α [−log α·mean(log π + H̄)] = −mean(log π + H̄), H̄ = −1 on Pendulum
    _, log_prob = policy64(learner.actor_params, batch.obs, k_actor)
    np.testing.assert_allclose(metrics["entropy"], -np.mean(log_prob), rtol=1e-4)
    step = -3e-4 * np.sign(-np.mean(log_prob - 1.0))
    np.testing.assert_allclose(new.log_temperature, np.log(0.5) + step, rtol=1e-5)


def test_actor_loss_in_float64():
    learner = sac.init_learner(jax.random.key(0), CONFIG, HPARAMS)
    batch, key = random_batch(jax.random.key(1)), jax.random.key(3)
    actor, critic = sac.networks_of(CONFIG)
    loss, _ = sac.actor_loss(learner.actor_params, actor, critic, learner.critic_params, batch.obs, key, 0.5, HPARAMS)
    actions, log_prob = policy64(learner.actor_params, batch.obs, key)
    q = twins64(learner.critic_params, np.asarray(batch.obs), actions).min(axis=0)
    np.testing.assert_allclose(loss, np.mean(0.5 * log_prob - q), rtol=1e-5)


def test_a_fixed_temperature_stays_and_a_learned_one_moves():
    fixed = HPARAMS.replace(learned_temperature=0.0, entropy_temperature=0.1)
    learner = sac.init_learner(jax.random.key(0), CONFIG, fixed)
    update = jax.jit(sac.update, static_argnums=4)
    new, metrics = update(learner, random_batch(jax.random.key(1)), jax.random.key(2), fixed, CONFIG)
    assert float(metrics["temperature"]) == np.float32(0.1)
    np.testing.assert_array_equal(new.log_temperature, learner.log_temperature)
    assert jax.tree.all(jax.tree.map(np.array_equal, new.temperature_opt_state, learner.temperature_opt_state))
    learned, _ = update(learner, random_batch(jax.random.key(1)), jax.random.key(2), HPARAMS, CONFIG)
    assert learned.log_temperature != learner.log_temperature
    assert isinstance(learned.temperature_opt_state, type(optax.adam(1.0).init(learner.log_temperature)))


def test_mean_head_and_presquash_instruments():
    learner = sac.init_learner(jax.random.key(0), CONFIG, HPARAMS)
    _, metrics = jax.jit(sac.update, static_argnums=4)(
        learner, random_batch(jax.random.key(1)), jax.random.key(2), HPARAMS, CONFIG
    )
    # at initialisation μ ≈ 0 (output layer U(±3e-3)) and σ ≈ 1: the sample spreads, the mean does not
    assert float(metrics["mean_head_saturation"]) == 0.0 and float(metrics["mean_head_abs_gt2"]) == 0.0
    assert 0.5 < float(metrics["preact_std"]) < 1.5
    assert metrics["critic_input_grad_norm"].shape == (2,)
