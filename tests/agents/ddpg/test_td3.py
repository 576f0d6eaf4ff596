"""TD3 (the ddpg room's twin-critic form): its clipped double-Q target with target policy
smoothing against a float64 version, the delayed actor and targets, and its instruments."""

import jax
import numpy as np
from domain_configs import small_config
from plain_networks import actors64, random_batch, twins64

from jaxmadrl.agents import critics
from jaxmadrl.agents.ddpg import learner as ddpg
from jaxmadrl.agents.hyperparams import HyperParams

CONFIG = small_config("Pendulum-v1", learner="td3", tau=0.25)
HPARAMS = HyperParams(
    actor_lr=1e-2, critic_lr=1e-2, gamma=0.9, reward_scale=2.0, target_noise=0.3, target_noise_clip=0.1
)


def test_clipped_double_q_target_with_smoothing_noise_in_float64():
    learner = ddpg.init_learner(jax.random.key(0), CONFIG)
    batch, key = random_batch(jax.random.key(1)), jax.random.key(2)
    _, metrics = jax.jit(ddpg.update, static_argnums=4)(learner, batch, key, HPARAMS, CONFIG)

    # y = 2·r + 0.9·(1 − d)·min_c Q'_c(s', clip(tanh(μ'(s')) + clip(0.3·ε, ±0.1), ±1))
    noise = np.clip(0.3 * np.float64(jax.random.normal(key, (8, 1, 1))), -0.1, 0.1)
    next_actions = np.clip(np.tanh(actors64(learner.actor_target, np.asarray(batch.next_obs))) + noise, -1, 1)
    next_q = twins64(learner.critic_target, np.asarray(batch.next_obs), next_actions)
    targets = 2.0 * np.arange(8.0) + 0.9 * np.array([0.0, 1.0] * 4) * next_q.min(axis=0)
    q = twins64(learner.critic_params, np.asarray(batch.obs), np.asarray(batch.actions))
    assert not np.allclose(q[0], q[1]), "the twins start from different weights"
    np.testing.assert_allclose(metrics["critic_loss"], np.sum(np.mean((q - targets) ** 2, axis=1)), rtol=1e-5)
    np.testing.assert_allclose(metrics["td_error"], np.mean(np.abs(q - targets)), rtol=1e-5)


def test_actor_and_targets_move_on_every_second_update_only():
    """policy_delay 2: updates 1, 3, … (counting from 1) step the actors and the soft
    targets; updates 2, 4, … leave them bit for bit and still train both critics."""
    update = jax.jit(ddpg.update, static_argnums=4)
    learner = ddpg.init_learner(jax.random.key(0), CONFIG)
    for count in range(4):
        batch = random_batch(jax.random.key(10 + count))
        new, metrics = update(learner, batch, jax.random.key(20 + count), HPARAMS, CONFIG)
        moved = [
            not all(jax.tree.leaves(jax.tree.map(np.array_equal, getattr(new, name), getattr(learner, name))))
            for name in ("actor_params", "actor_target", "critic_target", "critic_params")
        ]
        assert moved == [count % 2 == 0] * 3 + [True], (count, moved)
        assert (metrics["actor_max_delta"][0] > 0) == (count % 2 == 0)
        assert int(new.updates) == count + 1
        learner = new


def test_each_twin_critics_first_layer_gradient_is_measured():
    learner = ddpg.init_learner(jax.random.key(0), CONFIG)
    batch, key = random_batch(jax.random.key(1)), jax.random.key(2)
    _, metrics = jax.jit(ddpg.update, static_argnums=4)(learner, batch, key, HPARAMS, CONFIG)
    _, critic = ddpg.networks_of(CONFIG)
    targets = ddpg.td_targets(learner, batch, key, HPARAMS, CONFIG)
    grads = jax.grad(lambda p: critics.td_loss(p, critic, batch.obs, batch.actions, targets)[0])(learner.critic_params)
    first = grads["params"]["twins"]["fc1"]
    expected = np.sqrt(np.sum(np.square(first["kernel"]), axis=(1, 2)) + np.sum(np.square(first["bias"]), axis=1))
    np.testing.assert_allclose(metrics["critic_input_grad_norm"], expected, rtol=1e-5)
    np.testing.assert_allclose(metrics["critic_grad_norm_layers"][0], np.sqrt(np.mean(np.square(expected))), rtol=1e-5)
