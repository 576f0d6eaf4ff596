"""Tests for jaxmadrl.agents.replay (proportional prioritised experience replay)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmadrl.agents.replay import (
    ReplayBuffer,
    ReplayConfig,
    add,
    add_batch,
    init_replay,
    last_occurrences,
    priority_from_error,
    sample,
    stratified_indices,
    update_priorities,
)

NUM_AGENTS = 3
ALPHA = 0.6
EPS = 0.01

add_jit = jax.jit(add)
sample_jit = jax.jit(sample, static_argnums=2)
update_priorities_jit = jax.jit(update_priorities)
sample_many_keys = jax.jit(jax.vmap(sample, in_axes=(None, 0, None)), static_argnums=2)


def make_transition(value: float) -> dict:
    """A transition whose observation, actions, selected and reward equal ``value``."""
    value = jnp.float32(value)
    return {
        "observation": jnp.full((NUM_AGENTS, 7), value),
        "actions": jnp.full((NUM_AGENTS, 3), value),
        "selected": jnp.full((NUM_AGENTS,), value),
        "reward": value,
        "next_observation": jnp.full((NUM_AGENTS, 7), value + 1.0),
        "done": jnp.float32(0.0),
    }


def fill(capacity: int, errors) -> ReplayBuffer:
    """Buffer with one transition per error, transition k encoding value k."""
    state = init_replay(make_transition(0.0), capacity)
    for k, error in enumerate(errors):
        state = add_jit(state, make_transition(float(k)), jnp.float32(error))
    return state


def expected_priority(errors) -> np.ndarray:
    return (np.abs(np.asarray(errors, np.float64)) + EPS) ** ALPHA


def test_init_replay_is_empty_zero_filled_with_leading_capacity_axis():
    state = init_replay(make_transition(5.0), capacity=4)

    assert state.capacity == 4
    chex.assert_shape(state.items["observation"], (4, NUM_AGENTS, 7))
    chex.assert_shape(state.items["reward"], (4,))
    for leaf in jax.tree.leaves(state.items):
        np.testing.assert_array_equal(leaf, 0.0)
        assert leaf.dtype == jnp.float32
    np.testing.assert_array_equal(state.priorities, np.zeros(4))
    assert state.position.dtype == jnp.int32 and int(state.position) == 0
    assert state.size.dtype == jnp.int32 and int(state.size) == 0
    assert state.beta.dtype == jnp.float32
    np.testing.assert_allclose(state.beta, 0.4)
    assert init_replay(make_transition(0.0)).capacity == 10_000


def test_add_writes_item_and_priority_then_advances():
    state = fill(capacity=4, errors=[-2.0, 0.5])

    assert int(state.position) == 2 and int(state.size) == 2
    np.testing.assert_array_equal(state.items["reward"], [0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(state.items["next_observation"][1], np.full((NUM_AGENTS, 7), 2.0))
    np.testing.assert_allclose(state.priorities, np.r_[expected_priority([-2.0, 0.5]), 0.0, 0.0], rtol=1e-6)


def test_add_rejects_item_with_wrong_shape():
    state = init_replay(make_transition(0.0), capacity=4)
    bad_item = make_transition(0.0) | {"observation": jnp.zeros((NUM_AGENTS, 6))}
    with pytest.raises(AssertionError):
        add(state, bad_item, jnp.float32(0.0))


def test_wrap_around_overwrites_oldest():
    capacity, extra = 5, 2
    errors = np.arange(capacity + extra, dtype=np.float32)
    state = fill(capacity, errors)

    assert int(state.size) == capacity
    assert int(state.position) == extra
    # Slots 0 and 1 now hold transitions 5 and 6; slots 2..4 keep 2..4.
    np.testing.assert_array_equal(state.items["reward"], [5.0, 6.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(state.items["observation"][:, 0, 0], [5.0, 6.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(state.priorities, expected_priority([5.0, 6.0, 2.0, 3.0, 4.0]), rtol=1e-6)


@pytest.mark.parametrize("num_filled", [8, 5])
def test_sampling_frequencies_match_priorities(num_filled):
    capacity, batch_size, num_draws = 8, 8, 4000
    errors = np.array([0.0, 0.1, 0.3, 0.5, 1.0, 2.0, 4.0, 8.0])[:num_filled]
    state = fill(capacity, errors)

    keys = jax.random.split(jax.random.key(0), num_draws)
    _, _, indices, _ = sample_many_keys(state, keys, batch_size)

    counts = np.bincount(np.asarray(indices).ravel(), minlength=capacity)
    frequencies = counts / counts.sum()
    priorities = expected_priority(errors)
    np.testing.assert_allclose(frequencies[:num_filled], priorities / priorities.sum(), atol=6e-3)
    np.testing.assert_array_equal(counts[num_filled:], 0)


def test_importance_weights_match_hand_computation_and_batch_matches_indices():
    errors = [0.0, 1.0, 3.0]
    state = fill(capacity=6, errors=errors)
    size = len(errors)

    new_state, batch, indices, weights = sample_jit(state, jax.random.key(3), 8)

    indices = np.asarray(indices)
    assert indices.dtype == np.int32 and weights.dtype == jnp.float32
    # Stratification over 8 segments necessarily hits the lowest and highest priority slots.
    assert {0, 2} <= set(indices.tolist())
    beta = 0.4 + 0.001
    np.testing.assert_allclose(new_state.beta, beta, rtol=1e-6)
    priorities = expected_priority(errors)
    unnormalised = (size * priorities[indices] / priorities.sum()) ** -beta
    np.testing.assert_allclose(weights, unnormalised / unnormalised.max(), rtol=1e-5)
    # The rarest (lowest priority) slot gets the largest weight, exactly 1.
    np.testing.assert_allclose(weights[indices == 0], 1.0, rtol=1e-6)
    np.testing.assert_array_equal(batch["reward"], indices.astype(np.float32))
    np.testing.assert_array_equal(batch["observation"][:, 0, 0], indices.astype(np.float32))
    # Sampling touches nothing but beta.
    np.testing.assert_array_equal(new_state.priorities, state.priorities)
    assert int(new_state.position) == int(state.position) and int(new_state.size) == size


def test_beta_anneals_by_increment_before_each_sample_and_caps_at_one():
    state = fill(capacity=4, errors=[1.0, 2.0])

    def sample_step(state, key):
        state, _, _, _ = sample(state, key, 2)
        return state, state.beta

    keys = jax.random.split(jax.random.key(1), 700)
    final_state, betas = jax.jit(lambda s: jax.lax.scan(sample_step, s, keys))(state)

    betas = np.asarray(betas)
    np.testing.assert_allclose(betas[:3], [0.401, 0.402, 0.403], rtol=1e-6)
    np.testing.assert_allclose(np.diff(betas[:590]), 0.001, atol=1e-6)
    assert betas.max() == 1.0
    np.testing.assert_array_equal(betas[610:], 1.0)
    assert float(final_state.beta) == 1.0


def test_custom_config_is_used():
    config = ReplayConfig(alpha=1.0, eps=0.5, beta_start=0.9, beta_increment=0.05)
    state = init_replay(make_transition(0.0), capacity=2, config=config)
    state = add_jit(state, make_transition(0.0), jnp.float32(-2.0))

    np.testing.assert_allclose(state.priorities, [2.5, 0.0])
    state, _, _, _ = sample_jit(state, jax.random.key(0), 1)
    np.testing.assert_allclose(state.beta, 0.95, rtol=1e-6)
    state, _, _, _ = sample_jit(state, jax.random.key(0), 1)
    assert float(state.beta) == 1.0


def test_never_samples_empty_slot():
    state = fill(capacity=10, errors=[0.2, 5.0, 0.7])

    keys = jax.random.split(jax.random.key(2), 2000)
    _, _, indices, _ = sample_many_keys(state, keys, 16)
    assert int(indices.max()) <= 2
    assert set(np.unique(indices).tolist()) == {0, 1, 2}

    # Targets at the very top of the range, and beyond it as float rounding can produce.
    cumulative = jnp.cumsum(state.priorities)
    for top in [np.nextafter(np.float32(1), np.float32(0)), 1.0, 1.01]:
        uniforms = jnp.full((16,), top, jnp.float32)
        top_indices = stratified_indices(cumulative, state.size, uniforms)
        assert int(top_indices.max()) <= 2
        assert int(top_indices[-1]) == 2


def test_never_samples_empty_slot_when_float_rounding_overshoots_total():
    capacity, size, batch_size = 10_000, 9_999, 11
    errors = jax.random.uniform(jax.random.key(4), (size,), maxval=100.0)
    priorities = jnp.zeros(capacity).at[:size].set(priority_from_error(errors, ReplayConfig()))
    cumulative = jnp.cumsum(priorities)
    just_below_one = np.nextafter(np.float32(1), np.float32(0))
    uniforms = jnp.full((batch_size,), just_below_one, jnp.float32)

    # For this float32 mass and batch size the last target rounds above the total,
    # so the bare search lands on an empty slot; the clip must catch it.
    targets = (jnp.arange(batch_size, dtype=jnp.float32) + uniforms) * (cumulative[-1] / batch_size)
    assert int(jnp.searchsorted(cumulative, targets)[-1]) >= size

    indices = stratified_indices(cumulative, jnp.int32(size), uniforms)

    assert int(indices[-1]) == size - 1
    assert int(indices.max()) <= size - 1


def test_update_priorities_changes_exactly_those_slots():
    errors = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    state = fill(capacity=8, errors=errors)
    indices = jnp.array([4, 1], jnp.int32)
    new_errors = jnp.array([-3.0, 7.0], jnp.float32)

    new_state = update_priorities_jit(state, indices, new_errors)

    expected = np.r_[expected_priority(errors), 0.0, 0.0]
    expected[[4, 1]] = expected_priority([-3.0, 7.0])
    np.testing.assert_allclose(new_state.priorities, expected, rtol=1e-6)
    changed = np.flatnonzero(np.asarray(new_state.priorities != state.priorities))
    np.testing.assert_array_equal(changed, [1, 4])
    chex.assert_trees_all_equal(new_state.items, state.items)
    assert int(new_state.size) == int(state.size)


def test_last_occurrences_marks_one_position_per_slot_the_last():
    indices = np.array([2, 5, 2, 0, 5, 2, 5], np.int32)
    np.testing.assert_array_equal(last_occurrences(jnp.asarray(indices), 8), [0, 0, 0, 1, 0, 1, 1])
    # Many duplicates (64 draws from 6 slots), under vmap: what the scatter receives in range is
    # one position per sampled slot, the last, so the order XLA combines duplicates in cannot matter.
    draws = np.asarray(jax.random.randint(jax.random.key(0), (5, 64), 0, 6), np.int32)
    marks = np.asarray(jax.vmap(last_occurrences, in_axes=(0, None))(jnp.asarray(draws), 8))
    for row, mark in zip(draws, marks):
        last = {slot: position for position, slot in enumerate(row)}
        np.testing.assert_array_equal(np.flatnonzero(mark), sorted(last.values()))
        assert len(np.unique(row[mark])) == mark.sum() == len(set(row))


def test_update_priorities_with_duplicates_keeps_the_last_error_of_each_slot():
    errors = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    state = fill(capacity=8, errors=errors)
    indices = np.array([2, 5, 2, 0, 5, 2, 5], np.int32)
    new_errors = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], np.float32)
    expected = np.asarray(state.priorities).copy()
    for index, error in zip(indices, new_errors):  # one after another: the last one stays
        expected[index] = expected_priority([error])[0]

    # The errors' priorities are 2e-2 apart or more, so rtol 1e-6 (XLA's and NumPy's powers
    # may differ in the last bit) still tells which error a slot kept.
    np.testing.assert_allclose(
        update_priorities_jit(state, jnp.asarray(indices), jnp.asarray(new_errors)).priorities, expected, rtol=1e-6
    )
    # Only the order of each slot's last occurrence matters, not where earlier ones stand.
    reordered = np.array([3, 1, 0, 2, 4, 5, 6])
    np.testing.assert_allclose(
        update_priorities_jit(state, jnp.asarray(indices[reordered]), jnp.asarray(new_errors[reordered])).priorities,
        expected,
        rtol=1e-6,
    )
    # Every sampled slot repeated: one write per slot, under vmap as well.
    batched = jax.vmap(update_priorities, in_axes=(None, 0, 0))(
        state, jnp.asarray([indices, np.full(7, 4, np.int32)]), jnp.asarray([new_errors, new_errors])
    )
    np.testing.assert_allclose(batched.priorities[0], expected, rtol=1e-6)
    all_four = np.asarray(state.priorities).copy()
    all_four[4] = expected_priority([7.0])[0]
    np.testing.assert_allclose(batched.priorities[1], all_four, rtol=1e-6)


def test_jit_vmap_over_buffers_matches_single_buffers_without_retracing():
    num_buffers, capacity, batch_size = 3, 6, 4
    single = init_replay(make_transition(0.0), capacity)
    buffers = jax.tree.map(lambda leaf: jnp.stack([leaf] * num_buffers), single)

    def train_step(state, key, item, error):
        state = add(state, item, error)
        state, batch, indices, weights = sample(state, key, batch_size)
        state = update_priorities(state, indices, batch["reward"] + 1.0)
        return state, indices, weights

    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def vmapped_step(buffers, keys, items, errors):
        return jax.vmap(train_step)(buffers, keys, items, errors)

    single_step = jax.jit(train_step)
    key = jax.random.key(5)
    for step in range(capacity + 2):
        key, step_key = jax.random.split(key)
        keys = jax.random.split(step_key, num_buffers)
        items = jax.vmap(make_transition)(jnp.arange(num_buffers, dtype=jnp.float32) + 10 * step)
        errors = jnp.arange(num_buffers, dtype=jnp.float32) * (step + 1)
        previous = buffers
        buffers, indices, weights = vmapped_step(buffers, keys, items, errors)

        chex.assert_shape([indices, weights], (num_buffers, batch_size))
        for b in range(num_buffers):
            one = jax.tree.map(lambda leaf: leaf[b], previous)
            item = jax.tree.map(lambda leaf: leaf[b], items)
            expected_state, expected_indices, expected_weights = single_step(one, keys[b], item, errors[b])
            np.testing.assert_array_equal(indices[b], expected_indices)
            np.testing.assert_allclose(weights[b], expected_weights, rtol=1e-6)
            np.testing.assert_allclose(buffers.priorities[b], expected_state.priorities, rtol=1e-6)

    np.testing.assert_array_equal(buffers.size, [capacity] * num_buffers)
    np.testing.assert_array_equal(buffers.position, [2] * num_buffers)
    np.testing.assert_allclose(buffers.beta, 0.4 + 0.001 * (capacity + 2), rtol=1e-5)


def test_add_batch_equals_adds_one_by_one_across_the_wrap():
    capacity = 5
    state = init_replay({"x": jnp.zeros((2,))}, capacity)
    state = add(state, {"x": jnp.full((2,), -1.0)}, jnp.float32(0.5))
    items = {"x": jnp.arange(12.0).reshape(6, 2)[:capacity]}
    errors = jnp.arange(1.0, capacity + 1.0)
    batched = add_batch(state, items, errors)
    one_by_one = state
    for i in range(capacity):
        one_by_one = add(one_by_one, {"x": items["x"][i]}, errors[i])
    chex.assert_trees_all_equal(batched, one_by_one)
    assert int(batched.position) == 1 and int(batched.size) == capacity
    with pytest.raises(ValueError, match="capacity"):
        add_batch(state, {"x": jnp.zeros((capacity + 1, 2))}, jnp.zeros(capacity + 1))
