"""The train step against the plain formulation: concatenated critic input, every row,
masked max with gradient through all rows, and a Python loop for the sequential order."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxmadrl.agents import normalisation, optimisers
from jaxmadrl.agents.ccm import learner as L
from jaxmadrl.agents.ccm import losses
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.networks import make_networks
from jaxmadrl.envs.mec import EnvParams

N, B, MAX_ROWS = 3, 32, 2
CONFIG = TrainConfig(
    env=EnvParams(n_agents=N, n_channels=MAX_ROWS), batch_size=B, replay_capacity=64, critic_hidden=(32, 16)
)
NETS = make_networks(N, critic_hidden=CONFIG.critic_hidden)
# Every field a float32 (int32) array, as a run's are: a setting replaced by another array of
# its type keeps the train step's program, compiled once for this file (``train_step``).
HPARAMS = HyperParams(actor_lr=0.01, critic_lr=0.003).as_arrays()
train_step = jax.jit(L.train_step, static_argnums=(4, 5))


def varied_learner(key):
    """Initial learner whose actors' outputs vary in sign across samples (large fc3 kernel, no bias)."""
    learner = L.init_learner(key, NETS, N)
    params = learner.actor_params
    fc3 = params["params"]["fc3"]
    fc3 = {"kernel": fc3["kernel"] * 300.0, "bias": jnp.zeros_like(fc3["bias"])}
    params = {"params": {**params["params"], "fc3": fc3}}
    return learner.replace(actor_params=params, actor_target=params)


def random_batch(key):
    k = jax.random.split(key, 6)
    obs = jax.random.normal(k[0], (B, N, 7))
    actions = jax.random.uniform(k[1], (B, N, 3), minval=-1.0, maxval=1.0)
    # At most MAX_ROWS selected per sample; some samples with none.
    scores = jax.random.uniform(k[2], (B, N))
    n_selected = jax.random.randint(k[3], (B,), 0, MAX_ROWS + 1)
    rank = jnp.argsort(jnp.argsort(-scores, axis=1), axis=1)
    selected = (rank < n_selected[:, None]).astype(jnp.float32)
    return L.Transition(
        obs=obs,
        actions=actions,
        selected=selected,
        reward=-100.0 * jax.random.uniform(k[4], (B,)),
        next_obs=jax.random.normal(k[5], (B, N, 7)),
        done=(jnp.arange(B) % 5 == 0).astype(jnp.float32),
    )


def concatenated(obs, actions, own_obs, own_actions):
    """[all states, all actions, own state, own action] for each row: (..., R, 10N + 10)."""
    joint = jnp.concatenate([obs.reshape(obs.shape[0], -1), actions.reshape(actions.shape[0], -1)], -1)
    joint = jnp.broadcast_to(joint[:, None, :], own_obs.shape[:2] + joint.shape[-1:])
    return jnp.concatenate([joint, own_obs, own_actions], -1)


def plain_q(critic_params, obs, actions, hidden_norm=0.0):
    return NETS.critic.apply(critic_params, concatenated(obs, actions, obs, actions), hidden_norm)


def plain_zero_q(critic_params, obs, actions, hidden_norm=0.0):
    zeros_obs, zeros_act = jnp.zeros_like(obs[:, :1]), jnp.zeros_like(actions[:, :1])
    return NETS.critic.apply(critic_params, concatenated(obs, actions, zeros_obs, zeros_act), hidden_norm)[:, 0]


def plain_value(critic_params, obs, actions, hidden_norm=0.0):
    q = plain_q(critic_params, obs, actions, hidden_norm)
    proposals = actions[..., 0] >= 0
    best = jnp.max(jnp.where(proposals, q, -jnp.inf), axis=1)
    return jnp.where(proposals.any(1), best, plain_zero_q(critic_params, obs, actions, hidden_norm))


def plain_targets(learner, batch, hparams):
    z = NETS.actor.apply(learner.actor_target, jnp.swapaxes(batch.next_obs, 0, 1), 0.0, 0.0, 0.0)
    next_actions = jnp.tanh(jnp.swapaxes(z, 0, 1))
    value = plain_value(learner.critic_target, batch.next_obs, next_actions)
    return hparams.reward_scale * batch.reward + hparams.gamma * (1 - batch.done) * value


def plain_critic_loss(critic_params, batch, targets, weights):
    q = plain_q(critic_params, batch.obs, batch.actions)
    q0 = plain_zero_q(critic_params, batch.obs, batch.actions)
    selected = batch.selected > 0
    none = ~selected.any(1)
    w, y = weights[:, None], targets[:, None]
    pair_terms = (
        jnp.where(selected, (w * q - w * y) ** 2, 0.0).sum()
        + jnp.where(none, (weights * q0 - weights * targets) ** 2, 0.0).sum()
    )
    loss = pair_terms / (selected.sum() + none.sum())
    errors = jnp.where(none, (q0 - targets) ** 2, jnp.where(selected, (q - y) ** 2, 0.0).sum(1))
    return loss, errors


def plain_actor_loss(actor_params, critic_params, obs, weights):
    actions = jnp.tanh(jnp.swapaxes(NETS.actor.apply(actor_params, jnp.swapaxes(obs, 0, 1), 0.0, 0.0, 0.0), 0, 1))
    return -jnp.mean(weights * plain_value(critic_params, obs, actions))


def plain_full_norm_actor_loss(actor_params, critic_params, obs, weights, mean, var):
    """The actor loss under full normalisation, written out: each actor's input
    (obs − mean) / (√var + 1e-5), LayerNorms after the hidden layers of both networks."""
    x = (obs - mean) / (jnp.sqrt(var) + 1e-5)
    actions = jnp.tanh(jnp.swapaxes(NETS.actor.apply(actor_params, jnp.swapaxes(x, 0, 1), 0.0, 0.0, 1.0), 0, 1))
    return -jnp.mean(weights * plain_value(critic_params, obs, actions, 1.0))


def assert_trees_close(a, b, rtol=2e-5):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        scale = float(jnp.max(jnp.abs(y))) + 1e-12
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=0, atol=rtol * scale)


@pytest.fixture(scope="module")
def setup():
    learner = jax.jit(varied_learner)(jax.random.key(0))
    batch = jax.jit(random_batch)(jax.random.key(1))
    weights = jax.random.uniform(jax.random.key(2), (B,), minval=0.2, maxval=1.0)
    return learner, batch, weights


def test_batch_covers_both_cases(setup):
    learner, batch, _ = setup
    assert bool((batch.selected.sum(1) == 0).any()) and bool((batch.selected.sum(1) == MAX_ROWS).any())
    actions, _ = losses.actor_outputs(NETS, learner.actor_params, batch.obs, learner.actor_input_stats, HPARAMS)
    proposals = (actions[..., 0] >= 0).sum(1)
    assert bool((proposals == 0).any()) and bool((proposals > 1).any())


def test_td_targets_equal_plain_form(setup):
    learner, batch, _ = setup
    targets = jax.jit(losses.td_targets, static_argnums=0)(
        NETS, learner, batch.reward, batch.next_obs, batch.done, HPARAMS
    )
    chex.assert_shape(targets, (B,))
    assert_trees_close(targets, jax.jit(plain_targets)(learner, batch, HPARAMS))


def test_critic_loss_on_selected_rows_equals_plain_form(setup):
    learner, batch, weights = setup
    targets = jax.jit(plain_targets)(learner, batch, HPARAMS)
    (loss, aux), grads = jax.jit(jax.value_and_grad(losses.critic_loss, has_aux=True), static_argnums=(1, 5))(
        learner.critic_params, NETS, batch, targets, weights, MAX_ROWS, 0.0
    )
    (plain_loss, plain_errors), plain_grads = jax.jit(jax.value_and_grad(plain_critic_loss, has_aux=True))(
        learner.critic_params, batch, targets, weights
    )
    np.testing.assert_allclose(loss, plain_loss, rtol=1e-5)
    assert_trees_close(aux["errors"], plain_errors)
    assert_trees_close(grads, plain_grads)


def test_actor_loss_through_argmax_row_equals_plain_form(setup):
    learner, batch, weights = setup
    (loss, z), grads = jax.jit(jax.value_and_grad(losses.actor_loss, has_aux=True), static_argnums=1)(
        learner.actor_params, NETS, learner.critic_params, batch.obs, learner.actor_input_stats, weights, HPARAMS
    )
    plain_loss, plain_grads = jax.jit(jax.value_and_grad(plain_actor_loss))(
        learner.actor_params, learner.critic_params, batch.obs, weights
    )
    chex.assert_shape(z, (B, N, 3))
    np.testing.assert_allclose(loss, plain_loss, rtol=1e-5)
    assert_trees_close(grads, plain_grads)
    # Every actor receives gradient through the joint part of the critic input.
    assert bool(jnp.all(jnp.abs(grads["params"]["fc3"]["kernel"]).sum((1, 2)) > 0))
    # Without the output LayerNorm, its parameters get no gradient.
    assert not np.any(jax.tree.leaves(grads["params"]["output_norm"])[0])


def per_agent_adam_step(params, opt_state, grads, lr):
    updates, opt_state = jax.vmap(optax.adam(lr).update)(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


@pytest.fixture(scope="module")
def simultaneous_step(setup):
    learner, batch, weights = setup
    return train_step(learner, batch, weights, HPARAMS, NETS, CONFIG)


@pytest.mark.program
def test_train_step_critic_then_actors(setup, simultaneous_step):
    learner, batch, weights = setup
    new, errors, metrics = simultaneous_step
    targets = jax.jit(plain_targets)(learner, batch, HPARAMS)
    (_, plain_errors), critic_grads = jax.jit(jax.value_and_grad(plain_critic_loss, has_aux=True))(
        learner.critic_params, batch, targets, weights
    )
    updates, _ = optax.adam(HPARAMS.critic_lr).update(critic_grads, learner.critic_opt_state)
    critic_params = optax.apply_updates(learner.critic_params, updates)
    assert_trees_close(new.critic_params, critic_params)
    assert_trees_close(errors, plain_errors)
    # The actors are updated against the already updated critic.
    actor_grads = jax.jit(jax.grad(plain_actor_loss))(learner.actor_params, new.critic_params, batch.obs, weights)
    actor_params, _ = jax.jit(per_agent_adam_step)(
        learner.actor_params, learner.actor_opt_state, actor_grads, HPARAMS.actor_lr
    )
    assert_trees_close(new.actor_params, actor_params)
    chex.assert_trees_all_equal(new.actor_target, new.actor_params)
    chex.assert_trees_all_equal(new.critic_target, new.critic_params)
    chex.assert_tree_all_finite(metrics)
    chex.assert_shape(metrics["actor_grad_norm_agents"], (N,))
    chex.assert_shape(metrics["actor_max_delta"], (N,))
    assert float(metrics["critic_max_delta"]) > 0


@pytest.mark.program
def test_sequential_update_matches_one_actor_at_a_time(setup, simultaneous_step):
    learner, batch, weights = setup
    config = TrainConfig(**{**CONFIG.__dict__, "actor_update": "sequential"})
    new, _, metrics = train_step(learner, batch, weights, HPARAMS, NETS, config)
    critic_params = simultaneous_step[0].critic_params
    assert_trees_close(new.critic_params, critic_params)

    params, opt_state = learner.actor_params, learner.actor_opt_state
    plain_grad, adam_step = jax.jit(jax.grad(plain_actor_loss)), jax.jit(per_agent_adam_step)
    for agent in range(N):
        grads = plain_grad(params, critic_params, batch.obs, weights)
        stepped, stepped_opt = adam_step(params, opt_state, grads, HPARAMS.actor_lr)
        take = lambda new_leaf, old_leaf: old_leaf.at[agent].set(new_leaf[agent])
        params = jax.tree.map(take, stepped, params)
        opt_state = jax.tree.map(take, stepped_opt, opt_state)
    assert_trees_close(new.actor_params, params)
    # Each actor's own Adam took exactly one step.
    counts = [leaf for leaf in jax.tree.leaves(new.actor_opt_state) if leaf.dtype == jnp.int32]
    assert all(np.array_equal(c, np.ones(N)) for c in counts) and counts
    # Actor 0 saw the same actors as in the simultaneous update; the last one did not.
    first = lambda tree: jax.tree.map(lambda x: x[0], tree)
    last = lambda tree: jax.tree.map(lambda x: x[-1], tree)
    simultaneous = simultaneous_step[0].actor_params
    assert_trees_close(first(new.actor_params), first(simultaneous))
    assert not np.allclose(
        last(new.actor_params)["params"]["fc3"]["kernel"],
        last(simultaneous)["params"]["fc3"]["kernel"],
        rtol=0,
        atol=1e-9,
    )
    chex.assert_shape(metrics["actor_grad_norm_agents"], (N,))


@pytest.mark.program
def test_preactivation_penalty_adds_each_actors_own_gradient(setup):
    """λ·mean(z_n²) on actor n's loss: the gradient gains, for each actor, the gradient of
    its own penalty alone (computed here one actor at a time)."""
    learner, batch, weights = setup
    penalty = 1e-2
    grad = jax.jit(jax.grad(losses.actor_loss, has_aux=True), static_argnums=1)
    plain, _ = grad(
        learner.actor_params, NETS, learner.critic_params, batch.obs, learner.actor_input_stats, weights, HPARAMS
    )
    penalised, _ = grad(
        learner.actor_params,
        NETS,
        learner.critic_params,
        batch.obs,
        learner.actor_input_stats,
        weights,
        HPARAMS.replace(preactivation_penalty=jnp.float32(penalty)),
    )

    def own_penalty(actor_params, agent):
        _, z = losses.actor_outputs(NETS, actor_params, batch.obs, learner.actor_input_stats, HPARAMS)
        return penalty * jnp.mean(jnp.square(z[:, agent]))

    own_penalty_grad = jax.jit(jax.grad(own_penalty))  # the agent traced: one program for all
    expected = jax.tree.map(jnp.zeros_like, plain)
    for agent in range(N):
        agent_grad = own_penalty_grad(learner.actor_params, agent)
        # Only actor ``agent``'s parameters reach its penalty.
        others = jax.tree.map(lambda g: jnp.delete(g, agent, axis=0), agent_grad)
        assert not any(np.any(leaf) for leaf in jax.tree.leaves(others))
        expected = jax.tree.map(jnp.add, expected, agent_grad)
    # A difference of two gradients against a sum of per-actor ones: measured ≤ 2.2e-7 of
    # the largest entry, leaf by leaf.
    assert_trees_close(jax.tree.map(jnp.subtract, penalised, plain), expected, rtol=1e-6)


# The reference logs its gradient buffers after the loop over agents (the loop that zeroes
# only actor p's buffer before pass p); clipping thresholds low enough to act.
CLIPPED = HPARAMS.replace(actor_grad_clip=jnp.float32(1e-3), critic_grad_clip=jnp.float32(1e-2))


def reference_buffers(setup, sequential: bool):
    """The reference's actor and critic gradient buffers after its actor loop, as a plain
    Python loop over passes: actor p's buffer zeroed, every buffer adds the pass's
    gradients, actor p's clipped in place and stepped (if ``sequential``; otherwise no
    actor moves between passes)."""
    learner, batch, weights = setup
    config = TrainConfig(**{**CONFIG.__dict__, "actor_update": "sequential" if sequential else "simultaneous"})
    new, _, metrics = train_step(learner, batch, weights, CLIPPED, NETS, config)
    targets = jax.jit(plain_targets)(learner, batch, CLIPPED)
    critic_grads = jax.jit(jax.grad(lambda c: plain_critic_loss(c, batch, targets, weights)[0]))(learner.critic_params)
    critic_buffer = optimisers.clip_global(critic_grads, CLIPPED.critic_grad_clip)
    actor_buffers = jax.tree.map(jnp.zeros_like, learner.actor_params)
    params, opt_state = learner.actor_params, learner.actor_opt_state
    plain_grads = jax.jit(jax.grad(plain_actor_loss, argnums=(0, 1)))
    for agent in range(N):
        actor_buffers = jax.tree.map(lambda b: b.at[agent].set(0.0), actor_buffers)
        actor_grads, pass_critic_grads = plain_grads(params, new.critic_params, batch.obs, weights)
        actor_buffers = jax.tree.map(jnp.add, actor_buffers, actor_grads)
        critic_buffer = jax.tree.map(jnp.add, critic_buffer, pass_critic_grads)
        clipped = optimisers.clip_per_agent(actor_buffers, CLIPPED.actor_grad_clip)
        actor_buffers = jax.tree.map(lambda b, c: b.at[agent].set(c[agent]), actor_buffers, clipped)
        if sequential:
            stepped, stepped_opt = per_agent_adam_step(params, opt_state, actor_buffers, CLIPPED.actor_lr)
            take = lambda new_leaf, old_leaf: old_leaf.at[agent].set(new_leaf[agent])
            params, opt_state = jax.tree.map(take, stepped, params), jax.tree.map(take, stepped_opt, opt_state)
    if sequential:
        assert_trees_close(new.actor_params, params)
    per_actor = np.sqrt(sum(np.sum(np.square(b).reshape(N, -1), axis=1) for b in jax.tree.leaves(actor_buffers)))
    critic = np.sqrt(sum(np.sum(np.square(b)) for b in jax.tree.leaves(critic_buffer)))
    # Per layer as the reference logs them: √(mean over agents of ‖layer‖²), and ‖layer‖.
    dense = lambda buffer: sorted((n for n in buffer["params"] if n.startswith("fc")), key=lambda n: int(n[2:]))
    squares = lambda layer, axis: sum(np.sum(np.square(b).reshape(axis, -1), axis=1) for b in jax.tree.leaves(layer))
    actor_layers = [np.sqrt(np.mean(squares(actor_buffers["params"][name], N))) for name in dense(actor_buffers)]
    critic_layers = [np.sqrt(squares(critic_buffer["params"][name], 1)[0]) for name in dense(critic_buffer)]
    buffers = {"actor": np.sqrt(np.mean(np.square(per_actor))), "critic": critic}
    return metrics, buffers, {"actor": np.array(actor_layers), "critic": np.array(critic_layers)}


@pytest.mark.program
@pytest.mark.parametrize("sequential", [True, False])
def test_accumulated_norms_are_the_reference_gradient_buffers(setup, sequential):
    metrics, totals, layers = reference_buffers(setup, sequential)
    actor, critic = totals["actor"], totals["critic"]
    # Different programs (a scan against a Python loop) agree to float32 rounding: measured
    # ≤ 1.2e-7 relative, with AVX-512 and AVX2 code alike.
    np.testing.assert_allclose(metrics["accumulated_actor_grad_norm"], actor, rtol=1e-6)
    np.testing.assert_allclose(metrics["accumulated_critic_grad_norm"], critic, rtol=1e-6)
    np.testing.assert_allclose(metrics["accumulated_grad_ratio"], actor / critic, rtol=2e-6)
    np.testing.assert_allclose(metrics["accumulated_actor_grad_norm_layers"], layers["actor"], rtol=1e-6)
    np.testing.assert_allclose(metrics["accumulated_critic_grad_norm_layers"], layers["critic"], rtol=1e-6)
    # Not the gradients of the updates: actor n's buffer holds N − n passes, the critic's
    # the actor passes on top of its own loss's.
    assert not np.isclose(metrics["accumulated_actor_grad_norm"], metrics["actor_grad_norm"], rtol=1e-2)
    assert not np.isclose(metrics["accumulated_critic_grad_norm"], metrics["critic_grad_norm"], rtol=1e-2)


def test_selected_rows_puts_selected_first():
    selected = jnp.array([[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0.0]])
    rows, mask = losses.selected_rows(selected, 2)
    np.testing.assert_array_equal(mask, [[True, True], [False, False], [True, False]])
    np.testing.assert_array_equal(rows[0], [1, 3])
    assert int(rows[2, 0]) == 0


# --- the saturation mitigations -------------------------------------------------------------


def test_clipping_one_actor_does_not_clip_another():
    grads = {"params": {"fc1": {"kernel": jnp.stack([jnp.full((2, 2), 10.0), jnp.full((2, 2), 0.1)])}}}
    clipped = optimisers.clip_per_agent(grads, jnp.float32(1.0))["params"]["fc1"]["kernel"]
    np.testing.assert_allclose(jnp.linalg.norm(clipped[0]), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clipped[1], grads["params"]["fc1"]["kernel"][1])
    unclipped = optimisers.clip_per_agent(grads, jnp.float32(jnp.inf))
    chex.assert_trees_all_equal(unclipped, grads)
    # "Off" stays an exact no-op even where the squared norm overflows float32.
    huge = jax.tree.map(lambda g: g * 1e20, grads)
    chex.assert_trees_all_equal(optimisers.clip_per_agent(huge, jnp.float32(jnp.inf)), huge)
    chex.assert_trees_all_equal(optimisers.clip_global(huge, jnp.float32(jnp.inf)), huge)
    whole = optimisers.clip_global(grads, jnp.float32(1.0))["params"]["fc1"]["kernel"]
    np.testing.assert_allclose(jnp.linalg.norm(whole), 1.0, rtol=1e-6)


def step_with(setup, **mitigations):
    learner, batch, weights = setup
    hparams = HPARAMS.replace(**mitigations)
    return train_step(learner, batch, weights, hparams, NETS, CONFIG)[0]


@pytest.mark.program
def test_output_lr_multiplier_scales_only_the_output_layer(setup, simultaneous_step):
    learner = setup[0]
    default = simultaneous_step[0]
    chex.assert_trees_all_equal(step_with(setup, output_lr_multiplier=jnp.float32(1.0)), default)
    doubled = step_with(setup, output_lr_multiplier=jnp.float32(2.0))
    old, base, new = (x.actor_params["params"] for x in (learner, default, doubled))
    for layer in ("fc1", "fc2"):
        chex.assert_trees_all_equal(new[layer], base[layer])
    np.testing.assert_allclose(
        new["fc3"]["kernel"] - old["fc3"]["kernel"],
        2 * (base["fc3"]["kernel"] - old["fc3"]["kernel"]),
        rtol=1e-4,
        atol=1e-9,
    )
    chex.assert_trees_all_equal(doubled.critic_params, default.critic_params)


@pytest.mark.program
def test_clip_thresholds_change_only_their_network(setup, simultaneous_step):
    default = simultaneous_step[0]
    actor_clipped = step_with(setup, actor_grad_clip=jnp.float32(1e-6))
    chex.assert_trees_all_equal(actor_clipped.critic_params, default.critic_params)
    assert not np.array_equal(
        actor_clipped.actor_params["params"]["fc1"]["kernel"], default.actor_params["params"]["fc1"]["kernel"]
    )
    critic_clipped = step_with(setup, critic_grad_clip=jnp.float32(1e-6))
    assert not np.array_equal(
        critic_clipped.critic_params["params"]["fc2"]["kernel"], default.critic_params["params"]["fc2"]["kernel"]
    )


@pytest.mark.program
def test_layer_norm_and_activation_settings_reach_the_actors(setup, simultaneous_step):
    learner = setup[0]
    normed = step_with(setup, layer_norm=jnp.float32(1.0))
    assert np.any(normed.actor_params["params"]["output_norm"]["scale"] != 1.0)
    chex.assert_trees_all_equal(
        simultaneous_step[0].actor_params["params"]["output_norm"], learner.actor_params["params"]["output_norm"]
    )
    softsign = step_with(setup, output_activation=jnp.int32(1))
    assert not np.array_equal(
        softsign.actor_params["params"]["fc3"]["kernel"], simultaneous_step[0].actor_params["params"]["fc3"]["kernel"]
    )


@pytest.mark.program
@pytest.mark.parametrize("actor_update", ["simultaneous", "sequential"])
def test_full_normalisation_in_the_train_step(setup, actor_update):
    """Each actor-loss pass first updates the actors' input statistics from the batch
    (one pass simultaneously, N sequentially), then normalises by them; the statistics
    change nothing while the switch is off."""
    learner, batch, weights = setup
    config = TrainConfig(**{**CONFIG.__dict__, "actor_update": actor_update})
    full = HPARAMS.replace(full_normalisation=jnp.float32(1.0))
    new, _, metrics = train_step(learner, batch, weights, full, NETS, config)
    chex.assert_tree_all_finite(metrics)
    expected = learner.actor_input_stats
    for _ in range(1 if actor_update == "simultaneous" else N):
        expected = normalisation.update_input_stats(expected, batch.obs)
    chex.assert_trees_all_close(new.actor_input_stats, expected, rtol=1e-6)
    if actor_update == "simultaneous":  # the actors' step, against the plain formulation
        grads = jax.jit(jax.grad(plain_full_norm_actor_loss))(
            learner.actor_params, new.critic_params, batch.obs, weights, expected.mean, expected.var
        )
        actor_params, _ = jax.jit(per_agent_adam_step)(
            learner.actor_params, learner.actor_opt_state, grads, full.actor_lr
        )
        assert_trees_close(new.actor_params, actor_params)
    for params, old in ((new.actor_params, learner.actor_params), (new.critic_params, learner.critic_params)):
        assert not np.array_equal(params["params"]["hidden_norm1"]["scale"], old["params"]["hidden_norm1"]["scale"])
    # Off, other statistics give the same step, bit for bit.
    moved = learner.replace(actor_input_stats=expected)
    default = train_step(learner, batch, weights, HPARAMS, NETS, config)[0]
    other = train_step(moved, batch, weights, HPARAMS, NETS, config)[0]
    chex.assert_trees_all_equal(other.replace(actor_input_stats=default.actor_input_stats), default)


def test_reward_statistics_and_normalisation():
    rewards = np.array([-3.0, 1.0, 4.0, -1.5, 2.5, 10.0], np.float32)
    stats = normalisation.init_reward_stats()
    stats = normalisation.update_reward_stats(
        normalisation.update_reward_stats(stats, jnp.asarray(rewards[:2])), jnp.asarray(rewards[2:])
    )
    np.testing.assert_allclose(stats.mean, rewards.mean(), rtol=1e-6)
    np.testing.assert_allclose(stats.m2 / (stats.count - 1), rewards.var(ddof=1), rtol=1e-5)
    r = jnp.float32(7.0)
    assert float(normalisation.normalised_reward(stats, r, jnp.float32(0.0))) == 7.0
    np.testing.assert_allclose(
        normalisation.normalised_reward(stats, r, jnp.float32(1.0)),
        (7.0 - rewards.mean()) / rewards.std(ddof=1),
        rtol=1e-5,
    )


# ----------------------------------------------------------------------------- stochastic actors

STOCHASTIC = make_networks(N, critic_hidden=CONFIG.critic_hidden, stochastic=True)


@pytest.mark.program
def test_stochastic_actors_entropy_bonus_in_float64():
    """Stochastic actors (mean and log-std heads, 6 outputs for 3 actions): the actor loss
    with entropy_coef β is the loss without it less β·H, H = mean_b −log π(â_b|s_b) of the
    same reparameterised sample, log π written out in float64 from μ, σ and the Gaussian
    shock (the tanh-squashed Gaussian's density, joint over agents); z is the mean head, and
    greedy actions are tanh(μ)."""
    learner = jax.jit(L.init_learner, static_argnums=(1, 2))(jax.random.key(0), STOCHASTIC, N)
    assert learner.actor_params["params"]["fc3"]["kernel"].shape[-1] == 6 and STOCHASTIC.stochastic
    batch, key = jax.jit(random_batch)(jax.random.key(1)), jax.random.key(2)
    weights = jnp.ones(B)
    args = (learner.actor_params, STOCHASTIC, learner.critic_params, batch.obs, learner.actor_input_stats, weights)
    actor_loss = jax.jit(losses.actor_loss, static_argnums=1)  # one program for both settings
    plain, z = actor_loss(*args, HPARAMS, key)
    with_bonus, _ = actor_loss(*args, HPARAMS.replace(entropy_coef=jnp.float32(0.1)), key)
    heads = np.float64(
        jax.jit(STOCHASTIC.actor.apply)(learner.actor_params, jnp.moveaxis(batch.obs, 1, 0), 0.0, 0.0, 0.0)
    )
    mean, log_std = np.moveaxis(heads[..., :3], 0, 1), np.clip(np.moveaxis(heads[..., 3:], 0, 1), -20.0, 2.0)
    np.testing.assert_allclose(z, mean, rtol=1e-5, atol=1e-7)
    shock = np.float64(jax.random.normal(key, mean.shape))
    u = mean + np.exp(log_std) * shock
    log_prob = np.sum(-0.5 * shock**2 - log_std - 0.5 * np.log(2 * np.pi) - np.log(1 - np.tanh(u) ** 2), axis=(1, 2))
    entropy = np.mean(-log_prob)
    np.testing.assert_allclose(with_bonus, plain - 0.1 * entropy, rtol=1e-5)
    greedy, mean_head = jax.jit(losses.actor_outputs, static_argnums=0)(
        STOCHASTIC, learner.actor_params, batch.obs, learner.actor_input_stats, HPARAMS
    )
    np.testing.assert_allclose(greedy, np.tanh(mean), rtol=1e-5, atol=1e-7)
    sampled = jax.jit(losses.sampled_actions, static_argnums=0)(
        STOCHASTIC, learner.actor_params, batch.obs, learner.actor_input_stats, HPARAMS, key
    )
    np.testing.assert_allclose(sampled.actions, np.tanh(u), rtol=1e-5, atol=1e-6)


@pytest.mark.program
def test_the_entropy_bonus_steps_the_stochastic_actors_towards_more_entropy():
    """A train step of stochastic actors at β = 1 against β = 0 from the same state and key:
    the critic steps alike (it comes first), and the actors after the step with the bonus have
    the larger entropy H = mean −log π on the batch (the same sample)."""
    learner = jax.jit(L.init_learner, static_argnums=(1, 2))(jax.random.key(0), STOCHASTIC, N)
    batch, key = jax.jit(random_batch)(jax.random.key(1)), jax.random.key(2)
    config = TrainConfig(**{**CONFIG.__dict__, "stochastic_actors": True})
    step = jax.jit(lambda hparams: L.train_step(learner, batch, jnp.ones(B), hparams, STOCHASTIC, config, key)[0])
    plain, bonus = step(HPARAMS), step(HPARAMS.replace(entropy_coef=jnp.float32(1.0)))
    chex.assert_trees_all_equal(plain.critic_params, bonus.critic_params)

    @jax.jit
    def entropy(state):
        sample = losses.sampled_actions(
            STOCHASTIC, state.actor_params, batch.obs, state.actor_input_stats, HPARAMS, key
        )
        return jnp.mean(-sample.log_prob)

    assert float(entropy(bonus)) > float(entropy(plain))
