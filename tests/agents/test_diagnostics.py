"""In-graph diagnostics: gradient norms, pre-activation statistics, weight change, stop tracking.

Every expected number below is worked out by hand in the comments.
"""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmadrl.agents import diagnostics as diag
from jaxmadrl.agents import networks
from jaxmadrl.agents.diagnostics import NEVER
from jaxmadrl.core.activations import activation_code, apply_output_activation

f32 = lambda x: jnp.asarray(x, jnp.float32)


# ----------------------------------------------------------------------------- gradient norms


def actor_grads():
    """N = 2 agents, layers fc1 (2→2) and fc2 (2→1); hand values.

    agent 0: fc1 kernel [[3,0],[0,0]], bias [4,0]  → √(9+16) = 5
             fc2 kernel [[1],[2]],     bias [2]    → √(1+4+4) = 3
    agent 1: fc1 kernel [[1,1],[1,1]], bias [0,0]  → √4 = 2
             fc2 kernel [[0],[0]],     bias [0]    → 0
    Keys are inserted fc2 first: the layer order must come from the names.
    """
    return {
        "params": {
            "fc2": {"kernel": f32([[[1.0], [2.0]], [[0.0], [0.0]]]), "bias": f32([[2.0], [0.0]])},
            "fc1": {
                "kernel": f32([[[3.0, 0.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]]]),
                "bias": f32([[4.0, 0.0], [0.0, 0.0]]),
            },
        }
    }


def critic_grads():
    """fc1 split: joint_kernel [[1],[2]], own_kernel [[2]], bias [4] → √(1+4+4+16) = 5;
    fc2 kernel [[6]], bias [8] → 10; fc3 kernel [[-2]], bias [0] → 2."""
    return {
        "params": {
            "fc3": {"kernel": f32([[-2.0]]), "bias": f32([0.0])},
            "fc1": {"joint_kernel": f32([[1.0], [2.0]]), "own_kernel": f32([[2.0]]), "bias": f32([4.0])},
            "fc2": {"kernel": f32([[6.0]]), "bias": f32([8.0])},
        }
    }


def test_actor_grad_norms_hand_values():
    norms = diag.actor_grad_norms(actor_grads())
    chex.assert_shape(norms, (2, 2))
    chex.assert_type(norms, jnp.float32)
    np.testing.assert_allclose(np.asarray(norms), [[5.0, 3.0], [2.0, 0.0]], rtol=1e-6)


def test_actor_grad_norms_ten_or_more_layers_in_numeric_order():
    """Layer fc_k carries kernel (N,1,1) = k·(n+1) and bias (N,1) = 0 → norm k·(n+1); fc10 after fc9."""
    n_agents, n_layers = 3, 12
    scale = jnp.arange(1, n_agents + 1, dtype=jnp.float32)  # agent n → n + 1
    names = [f"fc{k}" for k in (10, 2, 11, 1, 12, 3, 9, 4, 8, 5, 7, 6)]  # scrambled insertion order
    grads = {
        "params": {
            name: {"kernel": (int(name[2:]) * scale)[:, None, None], "bias": jnp.zeros((n_agents, 1))} for name in names
        }
    }
    norms = diag.actor_grad_norms(grads)
    chex.assert_shape(norms, (n_agents, n_layers))
    expected = np.outer(np.arange(1, n_agents + 1), np.arange(1, n_layers + 1))
    np.testing.assert_allclose(np.asarray(norms), expected, rtol=1e-6)
    assert networks.layer_names(grads) == [f"fc{k}" for k in range(1, 13)]


def test_critic_grad_norms_counts_split_first_layer_together():
    norms = diag.critic_grad_norms(critic_grads())
    chex.assert_shape(norms, (3,))
    np.testing.assert_allclose(np.asarray(norms), [5.0, 10.0, 2.0], rtol=1e-6)


def test_actor_total_norms_include_the_layer_norm_parameters():
    grads = actor_grads()  # dense layers: agent norms √(25 + 9) and 2 (hand values above)
    layer_norms = diag.actor_grad_norms(grads)
    np.testing.assert_allclose(
        np.asarray(diag.actor_total_norms(grads, layer_norms)), np.asarray(diag.total_norm(layer_norms)), rtol=0
    )
    with_norm = {
        "params": {
            **grads["params"],
            "LayerNorm_0": {"scale": f32([[12.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), "bias": f32([[0.0], [0.0]])},
        }
    }
    np.testing.assert_allclose(
        np.asarray(diag.actor_total_norms(with_norm, layer_norms)), [math.sqrt(34 + 144), 2.0], rtol=1e-6
    )


@pytest.mark.parametrize(
    "actor, critic, ratio", [(1.0, 4.0, 0.25), (0.0, 4.0, 0.0), (0.0, 0.0, 0.0), (2.0, 0.0, math.inf)]
)
def test_gradient_ratio_has_no_nan(actor, critic, ratio):
    assert float(diag.gradient_ratio(f32(actor), f32(critic))) == ratio


def test_rms_over_agents_and_total_norm():
    norms = diag.actor_grad_norms(actor_grads())  # [[5, 3], [2, 0]]
    # RMS over agents per layer: √((25+4)/2) = √14.5, √((9+0)/2) = √4.5.
    rms = diag.rms_over_agents(norms)
    chex.assert_shape(rms, (2,))
    np.testing.assert_allclose(np.asarray(rms), [math.sqrt(14.5), math.sqrt(4.5)], rtol=1e-6)
    # Total norm per agent over layers: √(25+9) = √34, √4 = 2.
    total = diag.total_norm(norms)
    chex.assert_shape(total, (2,))
    np.testing.assert_allclose(np.asarray(total), [math.sqrt(34.0), 2.0], rtol=1e-6)
    # RMS over agents of the per-agent totals: √((34+4)/2) = √19.
    np.testing.assert_allclose(float(diag.rms_over_agents(total)), math.sqrt(19.0), rtol=1e-6)
    # Critic: √(25+100+4) = √129.
    np.testing.assert_allclose(
        float(diag.total_norm(diag.critic_grad_norms(critic_grads()))), math.sqrt(129.0), rtol=1e-6
    )
    # Scalar-ish inputs: 3-4-5 triangle; rms of [3, 4] = √12.5.
    assert float(diag.total_norm(f32([3.0, 4.0]))) == pytest.approx(5.0)
    assert float(diag.rms_over_agents(f32([3.0, 4.0]))) == pytest.approx(math.sqrt(12.5))


def test_grad_norms_match_global_norm():
    """Consistency: the total of the per-layer norms is the norm of all entries (optax-free check)."""
    g = actor_grads()
    flat_per_agent = [np.concatenate([np.asarray(leaf[n]).ravel() for leaf in jax.tree.leaves(g)]) for n in range(2)]
    np.testing.assert_allclose(
        np.asarray(diag.total_norm(diag.actor_grad_norms(g))), [np.linalg.norm(v) for v in flat_per_agent], rtol=1e-6
    )


# ----------------------------------------------------------------------------- pre-activations


def test_preactivation_stats_hand_values():
    # z: sum = −3 − 1.48 + 1.46 + 0 + 2.5 + 0.52 = 0 → mean 0;
    # Σz² = 9 + 2.1904 + 2.1316 + 0 + 6.25 + 0.2704 = 19.8424 → std = √(19.8424/6);
    # saturated (|z| > atanh 0.9 ≈ 1.472): −3, −1.48, 2.5 → 3/6; |z| > 2: −3, 2.5 → 2/6.
    z = f32([[-3.0, -1.48, 1.46], [0.0, 2.5, 0.52]])
    stats = diag.preactivation_stats(z, jnp.tanh(z))
    assert set(stats) == {
        "preact_mean",
        "preact_std",
        "preact_min",
        "preact_max",
        "saturation",
        "tanh_saturation",
        "preact_abs_gt2",
        "output_mean",
        "output_min",
        "output_max",
        "output_head_mean",
    }
    for name, value in stats.items():
        chex.assert_shape(value, (3,) if name == "output_head_mean" else ())
    assert float(stats["preact_mean"]) == pytest.approx(0.0, abs=1e-6)
    assert float(stats["preact_std"]) == pytest.approx(math.sqrt(19.8424 / 6), rel=1e-6)
    assert float(stats["preact_min"]) == -3.0
    assert float(stats["preact_max"]) == 2.5
    assert float(stats["saturation"]) == float(stats["tanh_saturation"]) == pytest.approx(0.5)
    assert float(stats["preact_abs_gt2"]) == pytest.approx(2 / 6)
    tanh = [math.tanh(v) for v in (-3.0, -1.48, 1.46, 0.0, 2.5, 0.52)]
    heads = [(tanh[0] + tanh[3]) / 2, (tanh[1] + tanh[4]) / 2, (tanh[2] + tanh[5]) / 2]  # rows are samples
    np.testing.assert_allclose(stats["output_head_mean"], heads, atol=3e-7)  # float32 terms of size ~1
    assert float(stats["output_mean"]) == pytest.approx(sum(tanh) / 6, abs=1e-6)
    assert float(stats["output_min"]) == pytest.approx(math.tanh(-3.0)) and float(stats["output_max"]) == pytest.approx(
        math.tanh(2.5)
    )


def test_saturation_is_that_of_the_activation_in_use():
    # softsign(z) = z / (1 + |z|) > 0.9 ⇔ |z| > 9: of these z only ±50 and 12; tanh saturates
    # every |z| > 1.472 (5 of 6).
    z = f32([-50.0, -3.0, 2.0, 12.0, 50.0, 0.5])
    stats = diag.preactivation_stats(z, apply_output_activation(z, activation_code("softsign")))
    assert float(stats["saturation"]) == pytest.approx(3 / 6)
    assert float(stats["tanh_saturation"]) == pytest.approx(5 / 6)


@pytest.mark.parametrize(
    "z, saturated", [(1.46, 0.0), (-1.46, 0.0), (1.48, 1.0), (-1.48, 1.0), (0.0, 0.0), (50.0, 1.0)]
)
def test_saturation_threshold(z, saturated):
    # tanh(1.46) = 0.8978 ≤ 0.9; tanh(1.48) = 0.9017 > 0.9.
    assert float(diag.preactivation_stats(f32([z]), jnp.tanh(f32([z])))["saturation"]) == saturated


def test_preact_abs_gt2_is_strict():
    z = f32([2.0, -2.0, 2.01, -2.01, 0.0])
    stats = diag.preactivation_stats(z, jnp.tanh(z))
    assert float(stats["preact_abs_gt2"]) == pytest.approx(2 / 5)
    assert float(stats["saturation"]) == pytest.approx(4 / 5)


# ----------------------------------------------------------------------------- weight change


def stacked_params():
    """Two agents, leaves a (2, 2) and b (2, 1, 3)."""
    old = {
        "params": {
            "fc1": {"kernel": f32([[[0.0, 1.0, 2.0]], [[3.0, 4.0, 5.0]]]), "bias": f32([[1.0, 1.0], [1.0, 1.0]])}
        }
    }
    # agent 0: bias +0.5 on one entry, kernel −0.25 → max 0.5;
    # agent 1: kernel 5 → 3 (−2), bias +0.125 → max 2.
    new = {
        "params": {
            "fc1": {"kernel": f32([[[0.0, 0.75, 2.0]], [[3.0, 4.0, 3.0]]]), "bias": f32([[1.5, 1.0], [1.0, 1.125]])}
        }
    }
    return old, new


def test_max_abs_change_per_agent_hand_values():
    old, new = stacked_params()
    change = diag.max_abs_change_per_agent(old, new)
    chex.assert_shape(change, (2,))
    np.testing.assert_allclose(np.asarray(change), [0.5, 2.0], rtol=1e-7)
    # Symmetric in old/new.
    np.testing.assert_allclose(np.asarray(diag.max_abs_change_per_agent(new, old)), [0.5, 2.0])
    np.testing.assert_array_equal(np.asarray(diag.max_abs_change_per_agent(old, old)), [0.0, 0.0])


def test_max_abs_change_per_agent_single_agent_changed():
    old, _ = stacked_params()
    new = jax.tree.map(lambda x: x, old)
    new["params"]["fc1"]["kernel"] = old["params"]["fc1"]["kernel"].at[1, 0, 0].add(1e-3)
    change = np.asarray(diag.max_abs_change_per_agent(old, new))
    assert change[0] == 0.0  # bit-for-bit unchanged
    assert change[1] == pytest.approx(1e-3, rel=1e-3)


def test_max_abs_change_hand_values():
    old, new = stacked_params()
    assert float(diag.max_abs_change(old, new)) == 2.0
    # Critic-like tree with a scalar-shaped leaf: |−0.3 − 0.1| = 0.4 beats |0.25|.
    c_old = {"params": {"fc1": {"kernel": f32([[0.1, 0.2]]), "bias": f32([0.0])}}}
    c_new = {"params": {"fc1": {"kernel": f32([[-0.3, 0.2]]), "bias": f32([0.25])}}}
    assert float(diag.max_abs_change(c_old, c_new)) == pytest.approx(0.4, rel=1e-6)
    assert float(diag.max_abs_change(c_old, c_old)) == 0.0
    assert float(diag.max_abs_change(old, old)) == 0.0


# ----------------------------------------------------------------------------- stop tracker

# episodes_before_train = 1; train episodes 2 … 7.
#   agent 0: changes at 2, 3; not 4; changes 5; not 6, 7 → first_unchanged 4, last_changed 5
#   agent 1: never changes                               → first_unchanged 2, last_changed 1
#   agent 2: always changes (tiny 1e-12 counts)           → first_unchanged NEVER, last_changed 7
#   critic : changes 2; not 3; changes 4 … 7              → first_unchanged 3, last_changed 7
EPISODES = [2, 3, 4, 5, 6, 7]
ACTOR_CHANGES = np.array(
    [[0.1, 0.0, 1e-12], [0.2, 0.0, 1.0], [0.0, 0.0, 1.0], [0.3, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]], np.float32
)
CRITIC_CHANGES = np.array([0.5, 0.0, 0.5, 0.5, 0.5, 0.5], np.float32)


def run_tracker(actor_changes=ACTOR_CHANGES, critic_changes=CRITIC_CHANGES, before=1, upto=None):
    tracker = diag.init_stop_tracker(actor_changes.shape[1], before)
    for episode, a, c in list(zip(EPISODES, actor_changes, critic_changes))[:upto]:
        tracker = diag.update_stop_tracker(tracker, jnp.int32(episode), jnp.asarray(a), jnp.asarray(c))
    return tracker


def test_init_stop_tracker():
    tracker = diag.init_stop_tracker(3, 5)
    assert NEVER == -1
    chex.assert_shape(
        [
            tracker.actor_first_unchanged,
            tracker.actor_last_changed,
            tracker.critic_first_unchanged,
            tracker.critic_last_changed,
        ],
        [(3,), (3,), (), ()],
    )
    chex.assert_type(
        [
            tracker.actor_first_unchanged,
            tracker.actor_last_changed,
            tracker.critic_first_unchanged,
            tracker.critic_last_changed,
        ],
        jnp.int32,
    )
    np.testing.assert_array_equal(np.asarray(tracker.actor_first_unchanged), [-1, -1, -1])
    np.testing.assert_array_equal(np.asarray(tracker.actor_last_changed), [5, 5, 5])
    assert int(tracker.critic_first_unchanged) == -1
    assert int(tracker.critic_last_changed) == 5


def test_update_stop_tracker_hand_sequence():
    tracker = run_tracker()
    np.testing.assert_array_equal(np.asarray(tracker.actor_first_unchanged), [4, 2, NEVER])
    np.testing.assert_array_equal(np.asarray(tracker.actor_last_changed), [5, 1, 7])
    assert int(tracker.critic_first_unchanged) == 3
    assert int(tracker.critic_last_changed) == 7
    chex.assert_type(
        [
            tracker.actor_first_unchanged,
            tracker.actor_last_changed,
            tracker.critic_first_unchanged,
            tracker.critic_last_changed,
        ],
        jnp.int32,
    )


def test_first_unchanged_not_overwritten_by_later_unchanged_episodes():
    # After episode 4 (3 updates) agent 0 has first_unchanged 4; episodes 6 and 7 are also
    # unchanged but must not move it. Agent 1's 2 stays through all six updates.
    after_4 = run_tracker(upto=3)
    np.testing.assert_array_equal(np.asarray(after_4.actor_first_unchanged), [4, 2, NEVER])
    np.testing.assert_array_equal(np.asarray(after_4.actor_last_changed), [3, 1, 4])
    after_6 = run_tracker(upto=5)
    np.testing.assert_array_equal(np.asarray(after_6.actor_first_unchanged), [4, 2, NEVER])
    np.testing.assert_array_equal(np.asarray(after_6.actor_last_changed), [5, 1, 6])
    assert int(after_6.critic_first_unchanged) == 3


def test_stopping_summary_not_all_stopped():
    summary = diag.stopping_summary(run_tracker(), 7)
    np.testing.assert_array_equal(np.asarray(summary["actor_first_unchanged"]), [4, 2, NEVER])
    # Agent 2 never stopped → NEVER overall.
    assert int(summary["all_actors_stopped"]) == NEVER
    # never_again = last_changed + 1 if ≤ 7: agent 0 → 6; agent 1 (never changed, before = 1) → 2;
    # agent 2 changed in the final episode 7 → NEVER.
    np.testing.assert_array_equal(np.asarray(summary["actor_never_again"]), [6, 2, NEVER])
    assert int(summary["critic_first_unchanged"]) == 3
    assert int(summary["critic_never_again"]) == NEVER  # critic changed at episode 7
    # Read later (episodes_done 9, no further train steps): 7 + 1 = 8 ≤ 9.
    later = diag.stopping_summary(run_tracker(), 9)
    np.testing.assert_array_equal(np.asarray(later["actor_never_again"]), [6, 2, 8])
    assert int(later["critic_never_again"]) == 8


def test_stopping_summary_all_stopped():
    # As before but agent 2 is unchanged in episode 7 and the critic stops after 5.
    actor = ACTOR_CHANGES.copy()
    actor[5, 2] = 0.0
    critic = np.array([0.5, 0.0, 0.5, 0.5, 0.0, 0.0], np.float32)
    tracker = run_tracker(actor, critic)
    np.testing.assert_array_equal(np.asarray(tracker.actor_first_unchanged), [4, 2, 7])
    np.testing.assert_array_equal(np.asarray(tracker.actor_last_changed), [5, 1, 6])
    summary = diag.stopping_summary(tracker, 7)
    assert int(summary["all_actors_stopped"]) == 7  # max(4, 2, 7)
    np.testing.assert_array_equal(np.asarray(summary["actor_never_again"]), [6, 2, 7])
    assert int(summary["critic_first_unchanged"]) == 3
    assert int(summary["critic_never_again"]) == 6  # last change 5


def test_never_changed_agent_gets_episodes_before_train_plus_one():
    before = 10
    tracker = diag.init_stop_tracker(4, before)
    for episode in (11, 12, 13):
        tracker = diag.update_stop_tracker(tracker, jnp.int32(episode), jnp.zeros(4), jnp.float32(0.0))
    summary = diag.stopping_summary(tracker, 13)
    np.testing.assert_array_equal(np.asarray(summary["actor_first_unchanged"]), [11] * 4)
    np.testing.assert_array_equal(np.asarray(summary["actor_never_again"]), [before + 1] * 4)
    assert int(summary["all_actors_stopped"]) == 11
    assert int(summary["critic_first_unchanged"]) == 11
    assert int(summary["critic_never_again"]) == before + 1
    # Before any training episode has been completed there is nothing to report.
    empty = diag.stopping_summary(diag.init_stop_tracker(4, before), before)
    np.testing.assert_array_equal(np.asarray(empty["actor_never_again"]), [NEVER] * 4)
    assert int(empty["all_actors_stopped"]) == NEVER


# ----------------------------------------------------------------------------- jit and vmap


def test_grad_norms_under_jit_and_vmap():
    g = actor_grads()
    jitted = jax.jit(diag.actor_grad_norms)(g)
    np.testing.assert_allclose(np.asarray(jitted), [[5.0, 3.0], [2.0, 0.0]], rtol=1e-6)
    # Batch of 2 configurations: the second is the first scaled by 2.
    batched = jax.tree.map(lambda x: jnp.stack([x, 2.0 * x]), g)
    out = jax.jit(jax.vmap(diag.actor_grad_norms))(batched)
    chex.assert_shape(out, (2, 2, 2))
    np.testing.assert_allclose(np.asarray(out), [[[5, 3], [2, 0]], [[10, 6], [4, 0]]], rtol=1e-6)
    totals = jax.vmap(lambda n: diag.rms_over_agents(diag.total_norm(n)))(out)
    np.testing.assert_allclose(np.asarray(totals), [math.sqrt(19.0), 2 * math.sqrt(19.0)], rtol=1e-6)

    c = jax.tree.map(lambda x: jnp.stack([x, -3.0 * x]), critic_grads())
    c_out = jax.jit(jax.vmap(diag.critic_grad_norms))(c)
    np.testing.assert_allclose(np.asarray(c_out), [[5, 10, 2], [15, 30, 6]], rtol=1e-6)


def test_preactivation_and_change_under_jit_and_vmap():
    z = f32([[[-3.0, -1.48, 1.46], [0.0, 2.5, 0.52]], [[0.1, 0.2, 0.3], [-0.1, -0.2, -0.3]]])
    stats = jax.jit(jax.vmap(diag.preactivation_stats))(z, jnp.tanh(z))
    chex.assert_shape(stats["saturation"], (2,))
    np.testing.assert_allclose(np.asarray(stats["saturation"]), [0.5, 0.0])
    np.testing.assert_allclose(np.asarray(stats["preact_abs_gt2"]), [2 / 6, 0.0], atol=1e-7)
    np.testing.assert_allclose(np.asarray(stats["preact_max"]), [2.5, 0.3])
    np.testing.assert_allclose(np.asarray(stats["preact_mean"]), [0.0, 0.0], atol=1e-6)

    old, new = stacked_params()
    b_old = jax.tree.map(lambda x: jnp.stack([x, x]), old)
    b_new = jax.tree.map(lambda x, y: jnp.stack([y, x]), old, new)  # config 1 unchanged
    per_agent = jax.jit(jax.vmap(diag.max_abs_change_per_agent))(b_old, b_new)
    np.testing.assert_allclose(np.asarray(per_agent), [[0.5, 2.0], [0.0, 0.0]])
    overall = jax.jit(jax.vmap(diag.max_abs_change))(b_old, b_new)
    np.testing.assert_allclose(np.asarray(overall), [2.0, 0.0])


def test_stop_tracker_under_jit_and_vmap_over_configs():
    """Two configs scanned over the six train episodes inside one jitted, vmapped program.

    config 0: the hand sequence above (before = 1).
    config 1: actor changes reversed in agent order, critic never changes (before = 1).
    """
    actor = jnp.stack([ACTOR_CHANGES, ACTOR_CHANGES[:, ::-1]])  # (2, T, N)
    critic = jnp.stack([CRITIC_CHANGES, np.zeros(6, np.float32)])  # (2, T)
    episodes = jnp.asarray(EPISODES, jnp.int32)
    init = jax.tree.map(lambda x: jnp.stack([x, x]), diag.init_stop_tracker(3, 1))

    def run(tracker, actor_changes, critic_changes):
        def body(t, xs):
            return diag.update_stop_tracker(t, *xs), None

        tracker, _ = jax.lax.scan(body, tracker, (episodes, actor_changes, critic_changes))
        return tracker, diag.stopping_summary(tracker, episodes[-1])

    tracker, summary = jax.jit(jax.vmap(run))(init, actor, critic)
    chex.assert_shape([tracker.actor_first_unchanged, tracker.critic_last_changed], [(2, 3), (2,)])
    np.testing.assert_array_equal(np.asarray(tracker.actor_first_unchanged), [[4, 2, NEVER], [NEVER, 2, 4]])
    np.testing.assert_array_equal(np.asarray(tracker.actor_last_changed), [[5, 1, 7], [7, 1, 5]])
    np.testing.assert_array_equal(np.asarray(tracker.critic_first_unchanged), [3, 2])
    np.testing.assert_array_equal(np.asarray(tracker.critic_last_changed), [7, 1])
    np.testing.assert_array_equal(np.asarray(summary["all_actors_stopped"]), [NEVER, NEVER])
    np.testing.assert_array_equal(np.asarray(summary["actor_never_again"]), [[6, 2, NEVER], [NEVER, 2, 6]])
    np.testing.assert_array_equal(np.asarray(summary["critic_never_again"]), [NEVER, 2])

    # The eager loop gives the same tracker for config 0.
    eager = run_tracker()
    chex.assert_trees_all_equal(jax.tree.map(lambda x: x[0], tracker), eager)


def test_update_stop_tracker_vmap_single_step_with_batched_episode():
    """vmap with per-config episode numbers and per-config trackers in one step."""
    trackers = jax.tree.map(lambda a, b: jnp.stack([a, b]), diag.init_stop_tracker(3, 1), diag.init_stop_tracker(3, 4))
    episode = jnp.array([2, 5], jnp.int32)
    actor_change = f32([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    critic_change = f32([0.0, 2.0])
    out = jax.vmap(diag.update_stop_tracker)(trackers, episode, actor_change, critic_change)
    np.testing.assert_array_equal(np.asarray(out.actor_first_unchanged), [[2, NEVER, 2], [NEVER, 5, 5]])
    np.testing.assert_array_equal(np.asarray(out.actor_last_changed), [[1, 2, 1], [5, 4, 4]])
    np.testing.assert_array_equal(np.asarray(out.critic_first_unchanged), [2, NEVER])
    np.testing.assert_array_equal(np.asarray(out.critic_last_changed), [1, 5])
    summary = jax.vmap(diag.stopping_summary)(out, episode)
    np.testing.assert_array_equal(np.asarray(summary["actor_never_again"]), [[2, NEVER, 2], [NEVER, 5, 5]])
    np.testing.assert_array_equal(np.asarray(summary["critic_never_again"]), [2, NEVER])
