"""Actor ensemble and master critic: initialisation, agent independence, exact critic split, output maps."""

import dataclasses
import itertools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmadrl.agents import networks
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.ddpg import learner as ddpg
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.networks import (
    OUTPUT_INIT_BOUND,
    Actor,
    Critic,
    init_params,
    make_networks,
    with_default_output_init,
)
from jaxmadrl.core.activations import ACTIVATION_NAMES, OUTPUT_ACTIVATIONS, activation_code, apply_output_activation

N = 4
OBS, ACT = 7, 3
KEY = jax.random.key(0)


NETWORKS = make_networks(N)
BATCH = 5
init_default = jax.jit(lambda key: init_params(key, NETWORKS, N))


@pytest.fixture(scope="module")
def default_params():
    actor_params, critic_params = init_default(KEY)
    return NETWORKS, actor_params, critic_params


def random_inputs(seed, batch=BATCH, n=N):
    """Random obs (B, N, 7) ~ N(0, 1) and actions (B, N, 3) ~ U(-1, 1), float32 (numpy-drawn)."""
    rng = np.random.default_rng(seed)
    obs = jnp.asarray(rng.standard_normal((batch, n, OBS)), jnp.float32)
    actions = jnp.asarray(rng.uniform(-1.0, 1.0, (batch, n, ACT)), jnp.float32)
    return obs, actions


def concatenated_input(obs, actions, own_obs, own_actions):
    """(B, N, 7), (B, N, 3), own (B, R, 7), (B, R, 3) → (B, R, 10N + 10): one row per own part."""
    batch, rows = own_obs.shape[0], own_obs.shape[1]
    joint = jnp.concatenate([obs.reshape(batch, -1), actions.reshape(batch, -1)], axis=-1)
    joint = jnp.broadcast_to(joint[:, None, :], (batch, rows, joint.shape[-1]))
    return jnp.concatenate([joint, own_obs, own_actions], axis=-1)


def loud(critic_params, seed=7):
    """Critic params with the tiny U(±3e-3) output layer replaced by U(±1), so Q is O(1)."""
    rng = np.random.default_rng(seed)
    p = jax.tree.map(lambda x: x, critic_params)
    out = p["params"]["fc3"]
    out["kernel"] = jnp.asarray(rng.uniform(-1.0, 1.0, out["kernel"].shape), jnp.float32)
    out["bias"] = jnp.asarray(rng.uniform(-1.0, 1.0, out["bias"].shape), jnp.float32)
    return p


def assert_close_rel(actual, expected, rel=1e-5):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    scale = max(np.max(np.abs(expected)), 1e-30)
    assert np.max(np.abs(actual - expected)) <= rel * scale, (np.max(np.abs(actual - expected)), scale)


# ----------------------------------------------------------------------------- initialisation


def test_actor_params_have_leading_agent_axis(default_params):
    _, actor_params, _ = default_params
    p = actor_params["params"]
    assert sorted(p) == ["fc1", "fc2", "fc3", "hidden_norm1", "hidden_norm2", "output_norm"]
    chex.assert_shape(p["fc1"]["kernel"], (N, 7, 64))
    chex.assert_shape(p["fc1"]["bias"], (N, 64))
    chex.assert_shape(p["fc2"]["kernel"], (N, 64, 32))
    chex.assert_shape(p["fc2"]["bias"], (N, 32))
    chex.assert_shape(p["fc3"]["kernel"], (N, 32, 3))
    chex.assert_shape(p["fc3"]["bias"], (N, 3))
    chex.assert_type(jax.tree.leaves(actor_params), jnp.float32)
    for leaf in jax.tree.leaves(actor_params):
        assert leaf.shape[0] == N


def test_agents_get_different_initial_weights(default_params):
    _, actor_params, _ = default_params
    dense_layers = {k: v for k, v in actor_params["params"].items() if k.startswith("fc")}
    for leaf in jax.tree.leaves(dense_layers):  # the LayerNorm starts at scale 1, bias 0 everywhere
        for i, j in itertools.combinations(range(N), 2):
            assert not np.array_equal(np.asarray(leaf[i]), np.asarray(leaf[j]))


def assert_uniform_fill(leaf, bound, fill=0.9):
    leaf = np.asarray(leaf)
    assert np.all(np.abs(leaf) <= bound + 1e-7), (np.max(np.abs(leaf)), bound)
    assert leaf.max() > fill * bound and leaf.min() < -fill * bound, (leaf.min(), leaf.max(), bound)


def test_actor_init_bounds(default_params):
    _, actor_params, _ = default_params
    p = actor_params["params"]
    for name, fan_in in (("fc1", 7), ("fc2", 64)):
        for part in ("kernel", "bias"):  # PyTorch default: weights and biases U(±1/√fan_in)
            assert_uniform_fill(p[name][part], 1.0 / math.sqrt(fan_in))
    assert_uniform_fill(p["fc3"]["kernel"], OUTPUT_INIT_BOUND)  # N·96 draws fill ±3e-3
    assert np.all(np.abs(np.asarray(p["fc3"]["bias"])) <= OUTPUT_INIT_BOUND)
    assert OUTPUT_INIT_BOUND == 3e-3


def test_critic_split_first_layer_and_bounds(default_params):
    _, _, critic_params = default_params
    p = critic_params["params"]
    assert sorted(p) == ["fc1", "fc2", "fc3", "hidden_norm1", "hidden_norm2"]
    assert sorted(p["fc1"]) == ["bias", "joint_kernel", "own_kernel"]
    chex.assert_shape(p["fc1"]["joint_kernel"], (10 * N, 512))
    chex.assert_shape(p["fc1"]["own_kernel"], (10, 512))
    chex.assert_shape(p["fc1"]["bias"], (512,))
    chex.assert_shape(p["fc2"]["kernel"], (512, 128))
    chex.assert_shape(p["fc2"]["bias"], (128,))
    chex.assert_shape(p["fc3"]["kernel"], (128, 1))
    chex.assert_shape(p["fc3"]["bias"], (1,))
    chex.assert_type(jax.tree.leaves(critic_params), jnp.float32)
    # One layer of fan-in 10N + 10 = 50 → bound 1/√50 for both kernels and the bias.
    bound = 1.0 / math.sqrt(10 * N + 10)
    for part in ("joint_kernel", "own_kernel", "bias"):
        assert_uniform_fill(p["fc1"][part], bound)
    assert_uniform_fill(p["fc2"]["kernel"], 1.0 / math.sqrt(512))
    assert_uniform_fill(p["fc2"]["bias"], 1.0 / math.sqrt(512))
    assert_uniform_fill(p["fc3"]["kernel"], OUTPUT_INIT_BOUND, fill=0.8)  # only 128 draws
    # The two kernels are independent draws, not copies of one another.
    assert not np.allclose(np.asarray(p["fc1"]["joint_kernel"][:10]), np.asarray(p["fc1"]["own_kernel"]))


def test_custom_hidden_sizes_change_shapes():
    n = 3
    networks = make_networks(n, actor_hidden=(16, 8, 4), critic_hidden=(24, 12, 6))
    shapes = jax.eval_shape(lambda k: init_params(k, networks, n), KEY)
    a, c = shapes[0]["params"], shapes[1]["params"]
    norms = ["hidden_norm1", "hidden_norm2", "hidden_norm3"]
    assert sorted(a) == ["fc1", "fc2", "fc3", "fc4", *norms, "output_norm"]
    chex.assert_shape([a[name]["scale"] for name in norms], [(n, 16), (n, 8), (n, 4)])
    chex.assert_shape([a[f"fc{i}"]["kernel"] for i in (1, 2, 3, 4)], [(n, 7, 16), (n, 16, 8), (n, 8, 4), (n, 4, 3)])
    chex.assert_shape([a[f"fc{i}"]["bias"] for i in (1, 2, 3, 4)], [(n, 16), (n, 8), (n, 4), (n, 3)])
    assert sorted(c) == ["fc1", "fc2", "fc3", "fc4", *norms]
    chex.assert_shape([c[name]["bias"] for name in norms], [(24,), (12,), (6,)])
    chex.assert_shape([c["fc1"]["joint_kernel"], c["fc1"]["own_kernel"], c["fc1"]["bias"]], [(30, 24), (10, 24), (24,)])
    chex.assert_shape([c[f"fc{i}"]["kernel"] for i in (2, 3, 4)], [(24, 12), (12, 6), (6, 1)])

    one_layer = make_networks(5, actor_hidden=(10,), critic_hidden=(20,))
    a1, c1 = jax.eval_shape(lambda k: init_params(k, one_layer, 5), KEY)
    assert sorted(a1["params"]) == ["fc1", "fc2", "hidden_norm1", "output_norm"]
    assert sorted(c1["params"]) == ["fc1", "fc2", "hidden_norm1"]
    chex.assert_shape(
        [a1["params"]["fc2"]["kernel"], c1["params"]["fc1"]["joint_kernel"], c1["params"]["fc2"]["kernel"]],
        [(5, 10, 3), (50, 20), (20, 1)],
    )

    # Both networks run with the new widths (abstract evaluation: shapes and dtypes only).
    actor_params, critic_params = shapes
    z = jax.eval_shape(networks.actor.apply, actor_params, jax.ShapeDtypeStruct((n, 2, 7), jnp.float32), 0.0, 0.0, 0.0)
    q = jax.eval_shape(networks.critic.apply, critic_params, jax.ShapeDtypeStruct((2, n, 10 * n + 10), jnp.float32))
    assert (z.shape, z.dtype, q.shape, q.dtype) == ((n, 2, 3), jnp.float32, (2, n), jnp.float32)


def test_init_is_deterministic_in_key(default_params):
    _, a0, c0 = default_params
    a1, c1 = init_default(KEY)
    a2, _ = init_default(jax.random.key(6))
    chex.assert_trees_all_equal(a0, a1)
    chex.assert_trees_all_equal(c0, c1)
    assert not np.array_equal(np.asarray(a0["params"]["fc1"]["kernel"]), np.asarray(a2["params"]["fc1"]["kernel"]))


# ----------------------------------------------------------------------------- agent independence


actor_forward = jax.jit(lambda params, obs: NETWORKS.actor.apply(params, obs, 0.0, 0.0, 0.0))


def test_actor_output_for_agent_depends_only_on_own_obs(default_params):
    _, actor_params, _ = default_params
    obs = jnp.asarray(np.random.default_rng(3).standard_normal((N, BATCH, OBS)), jnp.float32)
    z = actor_forward(actor_params, obs)
    chex.assert_shape(z, (N, BATCH, ACT))
    chex.assert_type(z, jnp.float32)
    z2 = actor_forward(actor_params, obs.at[0].add(5.0))
    assert np.max(np.abs(np.asarray(z2[0] - z[0]))) > 1e-4  # agent 0 reacts
    np.testing.assert_array_equal(np.asarray(z2[1:]), np.asarray(z[1:]))  # the others do not
    z3 = actor_forward(actor_params, obs.at[N - 1].multiply(-3.0))
    np.testing.assert_array_equal(np.asarray(z3[:-1]), np.asarray(z[:-1]))
    assert np.max(np.abs(np.asarray(z3[-1] - z[-1]))) > 1e-4


def test_actor_ensemble_equals_single_actor_with_sliced_params(default_params):
    _, actor_params, _ = default_params
    obs = jnp.asarray(np.random.default_rng(4).standard_normal((N, BATCH, OBS)), jnp.float32)
    z = actor_forward(actor_params, obs)
    single = jax.jit(Actor(action_dim=3, hidden=(64, 32)).apply)
    for n in range(N):
        own = jax.tree.map(lambda leaf: leaf[n], actor_params)
        np.testing.assert_allclose(np.asarray(z[n]), np.asarray(single(own, obs[n])), rtol=1e-5, atol=1e-7)
        # And against a float64 forward written out by hand.
        p = jax.tree.map(lambda x: np.asarray(x, np.float64), own)["params"]
        h = np.maximum(np.asarray(obs[n], np.float64) @ p["fc1"]["kernel"] + p["fc1"]["bias"], 0)
        h = np.maximum(h @ p["fc2"]["kernel"] + p["fc2"]["bias"], 0)
        assert_close_rel(z[n], h @ p["fc3"]["kernel"] + p["fc3"]["bias"], rel=1e-4)


def test_actor_jit_matches_eager_without_batch_axis(default_params):
    _, actor_params, _ = default_params
    obs = jnp.asarray(np.random.default_rng(9).standard_normal((N, OBS)), jnp.float32)
    eager = NETWORKS.actor.apply(actor_params, obs, 0.0, 0.0, 0.0)
    chex.assert_shape(eager, (N, ACT))
    np.testing.assert_allclose(np.asarray(actor_forward(actor_params, obs)), np.asarray(eager), rtol=1e-5, atol=1e-8)


# ----------------------------------------------------------------------------- critic decomposition


def decomposed_q(params, obs, actions):
    joint = NETWORKS.critic.apply(params, obs, actions, method=Critic.joint_features)
    return NETWORKS.critic.apply(params, joint[..., None, :], obs, actions, method=Critic.head)


def concatenated_q(params, obs, actions):
    return NETWORKS.critic.apply(params, concatenated_input(obs, actions, obs, actions))


fast_q = jax.jit(decomposed_q)
plain_q = jax.jit(concatenated_q)


@pytest.mark.parametrize("use_loud", [False, True])
def test_critic_decomposition_equals_concatenated_form(default_params, use_loud):
    _, _, critic_params = default_params
    params = loud(critic_params) if use_loud else critic_params
    obs, actions = random_inputs(11)
    joint = NETWORKS.critic.apply(params, obs, actions, method=Critic.joint_features)
    chex.assert_shape(joint, (BATCH, 512))
    q_fast = NETWORKS.critic.apply(params, joint[..., None, :], obs, actions, method=Critic.head)
    x = concatenated_input(obs, actions, obs, actions)
    chex.assert_shape(x, (BATCH, N, 10 * N + 10))
    q_plain = NETWORKS.critic.apply(params, x)
    chex.assert_shape([q_fast, q_plain], [(BATCH, N), (BATCH, N)])
    chex.assert_type([q_fast, q_plain], jnp.float32)
    assert_close_rel(q_fast, q_plain, rel=1e-5)
    # The same under jit.
    assert_close_rel(fast_q(params, obs, actions), plain_q(params, obs, actions), rel=1e-5)
    assert_close_rel(fast_q(params, obs, actions), q_plain, rel=1e-5)
    # Rows differ: the own part matters.
    assert np.ptp(np.asarray(q_plain), axis=1).min() > 0


def test_critic_plain_form_matches_float64_reference(default_params):
    """The concatenated form is one dense layer with kernel [joint_kernel; own_kernel]."""
    _, _, critic_params = default_params
    params = loud(critic_params)
    obs, actions = random_inputs(12)
    x = concatenated_input(obs, actions, obs, actions)
    q = plain_q(params, obs, actions)
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)["params"]
    w1 = np.concatenate([p["fc1"]["joint_kernel"], p["fc1"]["own_kernel"]], axis=0)
    h = np.maximum(np.asarray(x, np.float64) @ w1 + p["fc1"]["bias"], 0)
    h = np.maximum(h @ p["fc2"]["kernel"] + p["fc2"]["bias"], 0)
    expected = (h @ p["fc3"]["kernel"] + p["fc3"]["bias"])[..., 0]
    assert_close_rel(q, expected, rel=1e-5)
    assert_close_rel(fast_q(params, obs, actions), expected, rel=1e-5)
    # Row layout of the helper: joint part [s_1 … s_N, a_1 … a_N], then own state and action.
    assert np.array_equal(np.asarray(x[:, 1, :OBS]), np.asarray(obs[:, 0]))
    assert np.array_equal(np.asarray(x[:, 2, N * OBS : N * OBS + ACT]), np.asarray(actions[:, 0]))
    assert np.array_equal(np.asarray(x[:, 2, 10 * N : 10 * N + OBS]), np.asarray(obs[:, 2]))
    assert np.array_equal(np.asarray(x[:, 3, 10 * N + OBS :]), np.asarray(actions[:, 3]))


def test_critic_zero_row_equals_zero_own_part(default_params):
    _, _, critic_params = default_params
    params = loud(critic_params)
    obs, actions = random_inputs(13)
    joint = NETWORKS.critic.apply(params, obs, actions, method=Critic.joint_features)
    q_zero = NETWORKS.critic.apply(params, joint, method=Critic.zero_row)
    chex.assert_shape(q_zero, (BATCH,))
    x = concatenated_input(obs, actions, jnp.zeros((BATCH, 1, OBS)), jnp.zeros((BATCH, 1, ACT)))
    q_plain = NETWORKS.critic.apply(params, x)[:, 0]
    assert_close_rel(q_zero, q_plain, rel=1e-5)
    # head with zero own parts gives the same thing.
    q_head = NETWORKS.critic.apply(params, joint, jnp.zeros((BATCH, OBS)), jnp.zeros((BATCH, ACT)), method=Critic.head)
    assert_close_rel(q_head, q_zero, rel=1e-6)
    # …and differs from every real agent row.
    assert np.all(np.asarray(fast_q(params, obs, actions)) != np.asarray(q_zero)[:, None])


def test_critic_gradients_agree_between_forms(default_params):
    _, _, critic_params = default_params
    params = loud(critic_params)
    obs, actions = random_inputs(14)
    weights = jnp.asarray(np.random.default_rng(15).standard_normal((BATCH, N)), jnp.float32)

    def grads(form):
        loss = lambda p, a: jnp.sum(weights * form(p, obs, a))
        return jax.jit(jax.grad(loss, argnums=(0, 1)))(params, actions)

    g_fast, g_plain = grads(decomposed_q), grads(concatenated_q)
    chex.assert_trees_all_equal_shapes(g_fast, g_plain)
    chex.assert_shape(g_fast[1], (BATCH, N, ACT))
    for a, b in zip(jax.tree.leaves(g_fast), jax.tree.leaves(g_plain)):
        assert_close_rel(a, b, rel=1e-5)
    # The gradients are not trivially zero.
    assert np.max(np.abs(np.asarray(g_fast[1]))) > 1e-3
    assert np.max(np.abs(np.asarray(g_fast[0]["params"]["fc1"]["own_kernel"]))) > 1e-3


# ----------------------------------------------------------------------------- output activations


def test_output_activation_names():
    assert sorted(OUTPUT_ACTIVATIONS) == ["hardtanh", "sigmoid2", "softsign", "tanh"]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("tanh", [0.0, 0.46211715726, -0.46211715726, 0.99999999588, -0.99999999588]),
        ("softsign", [0.0, 1 / 3, -1 / 3, 10 / 11, -10 / 11]),
        ("hardtanh", [0.0, 0.5, -0.5, 1.0, -1.0]),
        # 2σ(x) − 1 = tanh(x/2): tanh(0.25) = 0.2449186624, tanh(5) = 0.9999092043
        ("sigmoid2", [0.0, 0.2449186624, -0.2449186624, 0.9999092043, -0.9999092043]),
    ],
)
def test_output_activation_hand_values(name, expected):
    f = OUTPUT_ACTIVATIONS[name]
    x = jnp.array([0.0, 0.5, -0.5, 10.0, -10.0], jnp.float32)
    np.testing.assert_allclose(np.asarray(f(x)), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(OUTPUT_ACTIVATIONS))
def test_output_activation_range_and_oddness(name):
    f = OUTPUT_ACTIVATIONS[name]
    x = jnp.concatenate([jnp.linspace(-1e4, 1e4, 2001), jnp.linspace(-3.0, 3.0, 601)])
    y = np.asarray(f(x))
    assert np.all(y >= -1.0) and np.all(y <= 1.0)
    np.testing.assert_allclose(y, -np.asarray(f(-x)), atol=1e-6)
    assert np.all(np.diff(np.asarray(f(jnp.linspace(-3.0, 3.0, 601)))) >= 0)  # non-decreasing


def test_output_activation_derivatives():
    def d(name, z):
        return float(jax.grad(OUTPUT_ACTIVATIONS[name])(jnp.float32(z)))

    assert d("softsign", 10.0) == pytest.approx(1 / 121, rel=1e-5)
    assert d("softsign", -10.0) == pytest.approx(1 / 121, rel=1e-5)
    assert d("hardtanh", 10.0) == 0.0
    assert d("hardtanh", -10.0) == 0.0
    assert abs(d("tanh", 10.0)) < 1e-8
    assert d("sigmoid2", 10.0) == pytest.approx(2 * math.exp(-10) / (1 + math.exp(-10)) ** 2, rel=1e-3)
    # Slopes at the origin: 1, 1, 1, 1/2.
    assert d("tanh", 0.0) == pytest.approx(1.0)
    assert d("softsign", 0.0) == pytest.approx(1.0)
    assert d("hardtanh", 0.0) == pytest.approx(1.0)
    assert d("sigmoid2", 0.0) == pytest.approx(0.5)


def test_activation_codes_select_the_named_activation():
    z = jnp.linspace(-5.0, 5.0, 11)
    for code, name in enumerate(ACTIVATION_NAMES):
        assert activation_code(name) == code
        np.testing.assert_array_equal(apply_output_activation(z, jnp.int32(code)), OUTPUT_ACTIVATIONS[name](z))
    # Traced and vmapped over configurations: each lane gets its own activation.
    lanes = jax.jit(jax.vmap(apply_output_activation, in_axes=(None, 0)))(z, jnp.arange(4))
    for code, name in enumerate(ACTIVATION_NAMES):  # compiled division may round differently
        np.testing.assert_allclose(lanes[code], OUTPUT_ACTIVATIONS[name](z), rtol=1e-6)
    with pytest.raises(ValueError, match="output_activation"):
        activation_code("bogus")


def test_output_layer_norm_only_when_enabled(default_params):
    _, actor_params, _ = default_params
    obs = jax.random.normal(jax.random.key(5), (N, 6, 7)) * 10
    plain = NETWORKS.actor.apply(actor_params, obs, 0.0, 0.0, 0.0)
    normed = NETWORKS.actor.apply(actor_params, obs, 1.0, 0.0, 0.0)
    np.testing.assert_array_equal(plain, actor_forward(actor_params, obs))
    # Initial scale 1 and bias 0: zero mean and unit variance over the 3 outputs.
    np.testing.assert_allclose(normed.mean(-1), 0.0, atol=1e-5)
    variance = normed.var(-1)
    raw_variance = np.asarray(plain.var(-1))
    np.testing.assert_allclose(variance, raw_variance / (raw_variance + 1e-5), rtol=1e-3)


def test_linear_hidden_layers_are_the_affine_maps_alone(default_params):
    _, actor_params, _ = default_params
    obs = jax.random.normal(jax.random.key(6), (N, 6, 7)) * 3
    layers = actor_params["params"]
    x = obs
    for name in ("fc1", "fc2", "fc3"):
        x = jnp.einsum("nbi,nio->nbo", x, layers[name]["kernel"]) + layers[name]["bias"][:, None]
    linear = NETWORKS.actor.apply(actor_params, obs, 0.0, 1.0, 0.0)
    # Different programs (einsum against the module's batched products): float32 rounding.
    np.testing.assert_allclose(linear, x, rtol=1e-5, atol=1e-6)
    # The switch off is the ReLU network, bit for bit.
    np.testing.assert_array_equal(
        NETWORKS.actor.apply(actor_params, obs, 0.0, 0.0, 0.0), actor_forward(actor_params, obs)
    )
    assert not np.allclose(linear, actor_forward(actor_params, obs))


def with_random_norms(params, seed):
    """Params whose hidden LayerNorms have random scales and biases (not the identity)."""
    rng = np.random.default_rng(seed)
    layers = dict(params["params"])
    for name in [k for k in layers if k.startswith("hidden_norm")]:
        layers[name] = jax.tree.map(
            lambda x: jnp.asarray(rng.uniform(0.5, 1.5, x.shape) * rng.choice([-1, 1], x.shape), jnp.float32),
            layers[name],
        )
    return {"params": layers}


def layer_norm64(x, scale, bias):
    """LayerNorm over the last axis in float64: (x − mean) / √(var + 1e-5) · scale + bias."""
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * scale + bias


def test_actor_hidden_norms_follow_each_hidden_relu_only_when_enabled(default_params):
    _, actor_params, _ = default_params
    params = with_random_norms(actor_params, 21)
    obs = jax.random.normal(jax.random.key(7), (N, 6, 7)) * 3
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)["params"]
    for agent in range(N):
        x = np.asarray(obs[agent], np.float64)
        for i in (1, 2):
            x = np.maximum(x @ p[f"fc{i}"]["kernel"][agent] + p[f"fc{i}"]["bias"][agent], 0)
            x = layer_norm64(x, p[f"hidden_norm{i}"]["scale"][agent], p[f"hidden_norm{i}"]["bias"][agent])
        expected = x @ p["fc3"]["kernel"][agent] + p["fc3"]["bias"][agent]
        assert_close_rel(NETWORKS.actor.apply(params, obs, 0.0, 0.0, 1.0)[agent], expected, rel=1e-5)
    # Off, the LayerNorms' parameters change nothing: the plain network, bit for bit.
    np.testing.assert_array_equal(NETWORKS.actor.apply(params, obs, 0.0, 0.0, 0.0), actor_forward(actor_params, obs))


def test_critic_hidden_norms_in_every_form(default_params):
    """hidden_norm = 1: a LayerNorm after each hidden ReLU, in the plain form (against
    float64) and in the split fast path and zero row (against the plain form)."""
    _, _, critic_params = default_params
    params = with_random_norms(loud(critic_params), 22)
    obs, actions = random_inputs(16)
    x = concatenated_input(obs, actions, obs, actions)
    q_plain = NETWORKS.critic.apply(params, x, 1.0)
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)["params"]
    h = (
        np.asarray(x, np.float64) @ np.concatenate([p["fc1"]["joint_kernel"], p["fc1"]["own_kernel"]])
        + p["fc1"]["bias"]
    )
    h = layer_norm64(np.maximum(h, 0), p["hidden_norm1"]["scale"], p["hidden_norm1"]["bias"])
    h = np.maximum(h @ p["fc2"]["kernel"] + p["fc2"]["bias"], 0)
    h = layer_norm64(h, p["hidden_norm2"]["scale"], p["hidden_norm2"]["bias"])
    assert_close_rel(q_plain, (h @ p["fc3"]["kernel"] + p["fc3"]["bias"])[..., 0], rel=1e-5)
    joint = NETWORKS.critic.apply(params, obs, actions, method=Critic.joint_features)
    assert_close_rel(NETWORKS.critic.apply(params, joint[..., None, :], obs, actions, 1.0, method=Critic.head), q_plain)
    zeros = concatenated_input(obs, actions, jnp.zeros((BATCH, 1, OBS)), jnp.zeros((BATCH, 1, ACT)))
    assert_close_rel(
        NETWORKS.critic.apply(params, joint, 1.0, method=Critic.zero_row),
        NETWORKS.critic.apply(params, zeros, 1.0)[:, 0],
    )
    # Off: the plain critic, bit for bit, whatever the LayerNorms' parameters.
    np.testing.assert_array_equal(NETWORKS.critic.apply(params, x, 0.0), NETWORKS.critic.apply(loud(critic_params), x))
    assert not np.allclose(q_plain, NETWORKS.critic.apply(params, x, 0.0))


def test_default_output_init_rescales_only_the_output_layer_when_enabled(default_params):
    _, actor_params, _ = default_params
    kept = with_default_output_init(actor_params, jnp.float32(0.0))
    chex.assert_trees_all_equal(kept, actor_params)
    rescaled = with_default_output_init(actor_params, jnp.float32(1.0))
    for name in ("fc1", "fc2", "hidden_norm1", "hidden_norm2", "output_norm"):
        chex.assert_trees_all_equal(rescaled["params"][name], actor_params["params"][name])
    for part in ("kernel", "bias"):  # PyTorch's default for fan-in 32: U(±1/√32); float32 rounding
        np.testing.assert_allclose(
            rescaled["params"]["fc3"][part],
            actor_params["params"]["fc3"][part] / OUTPUT_INIT_BOUND / math.sqrt(32),
            rtol=1e-6,
        )
    assert_uniform_fill(rescaled["params"]["fc3"]["kernel"], 1.0 / math.sqrt(32))


def test_parameter_counts():
    assert networks.parameter_counts(TrainConfig(domain="Pendulum-v1", actor_hidden=(4,), critic_hidden=(2,))) == (
        (3 + 1) * 4 + (4 + 1) * 1,
        (3 + 1 + 1) * 2 + (2 + 1) * 1,
    )
    mpe = TrainConfig(domain="MPE_simple_spread_v3", actor_hidden=(4,), critic_hidden=(2,))
    assert networks.parameter_counts(mpe) == ((18 + 1) * 4 + (4 + 1) * 5, (3 * 23 + 1) * 2 + 3)
    learner = ddpg.init_learner(jax.random.key(0), mpe)
    sizes = [leaf.size for leaf in jax.tree.leaves(learner.critic_params)]
    assert sum(sizes) == networks.parameter_counts(mpe)[1]


# ----------------------------------------------------------------------------- sizes as lane data

SIZED = dict(
    name="sizes",
    domain="MPE_simple_spread_v3",
    learner="td3",
    actor_lrs=[1e-2],
    critic_lrs=[1e-2],
    episodes=3,
    chunk=3,
    eval_every=3,
    eval_episodes=1,
    batch_size=8,
    replay_capacity=200,
    actor_hidden=[8, 6],
    critic_hidden=[16, 12],
    variants={"small": {"actor_hidden": [3, 2], "critic_hidden": [5, 4]}, "full": {}},
)


def active_part(params: dict, units: dict[str, tuple[int, ...]]) -> dict:
    """The sub-network of the units alive: each dense layer's kernel (..., in, out) and bias
    (..., out) cut to the active widths of the layers around it (``units`` by network)."""
    tree = params["params"]
    layers = tree.get("twins", tree)
    names = networks.layer_names({"params": layers})
    widths = [None, *units, None]  # None: the input and output sizes are kept whole
    cut = {}
    for i, name in enumerate(names):
        w_in, w_out = widths[i], widths[i + 1]
        kernel = layers[name]["kernel"][..., slice(w_in), slice(w_out)]
        cut[name] = {"kernel": kernel, "bias": layers[name]["bias"][..., slice(w_out)]}
    cut = {**layers, **cut}  # the rest (the actors' output LayerNorm) as it is
    return {"params": {"twins": cut} if "twins" in tree else cut}


@pytest.mark.slow  # two programs of three episodes
def test_a_masked_lane_trains_as_the_network_of_its_own_size_and_leaves_its_masked_weights_alone():
    """TD3 on MPE (3 stacked actors, twin critics), networks built at actor (8, 6) and critic
    (16, 12), a lane of actor (3, 2) and critic (5, 4): its initial weights drawn at the fan-in
    of its own sizes, its masked weights bit for bit unchanged through 2 trained episodes (52
    updates), and its metrics those of the unmasked (3, 2) / (5, 4) program started from the
    same active weights, to the tolerance of two programs over many updates."""
    from programs import MANY_UPDATES_RTOL, assert_programs_agree

    from jaxmadrl.agents.scaffold import episode_clock
    from jaxmadrl.agents.trainers import trainer_of
    from jaxmadrl.study import grid
    from jaxmadrl.study.definition import SweepDefinition

    definition = SweepDefinition.from_dict(SIZED)
    config = definition.train_config()
    assert config.masked_sizes and config.actor_hidden == (8, 6) and config.critic_hidden == (16, 12)
    program, hparams, keys = grid.make_grid(config), definition.hyperparams(), definition.lane_keys()
    start = jax.jit(program.init)(keys, hparams)
    clocks = episode_clock(config, jnp.arange(3))
    end, metrics = jax.jit(program.run_chunk)(start, clocks, hparams)
    lane = definition.lanes().index(next(lane for lane in definition.lanes() if lane.variant == "small"))
    at = lambda tree: jax.tree.map(lambda x: x[lane], tree)
    units = {"actor_params": (3, 2), "critic_params": (5, 4)}

    first = at(start.learner)
    fc2 = first.actor_params["params"]["fc2"]["kernel"][:, :3, :2]
    assert 1 / math.sqrt(8) < np.abs(fc2).max() <= 1 / math.sqrt(3)  # U(±1/√3): the 3 units alive, not all 8
    last = at(end.learner)
    for name, widths in units.items():
        masked = lambda tree: jax.tree.map(  # the weights of masked units, where the active part is zeroed
            lambda whole, part: whole.at[tuple(slice(0, s) for s in part.shape)].set(0),
            tree,
            active_part(tree, widths),
        )
        chex.assert_trees_all_equal(masked(getattr(last, name)), masked(getattr(first, name)))

    small = dataclasses.replace(config, masked_sizes=False, actor_hidden=(3, 2), critic_hidden=(5, 4))
    trainer = trainer_of(small)
    plain = HyperParams(actor_lr=jnp.float32(1e-2), critic_lr=jnp.float32(1e-2))
    state = jax.jit(trainer.init)(keys[lane], plain)
    learner = state.learner.replace(
        **{name: active_part(getattr(first, name), units[name]) for name in ("actor_params", "critic_params")},
        actor_target=active_part(first.actor_target, units["actor_params"]),
        critic_target=active_part(first.critic_target, units["critic_params"]),
    )
    _, expected = jax.jit(trainer.run_episodes)(state.replace(learner=learner), clocks, plain)
    assert_programs_agree({k: v[:, lane] for k, v in metrics.items()}, expected, rtol=MANY_UPDATES_RTOL)
