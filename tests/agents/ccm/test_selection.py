"""Tests for the master's offloading selection (jaxmadrl.agents.ccm.selection)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmadrl.agents.ccm.selection import OffloadSelection, select_offloading

STORAGE_MB = 400.0


def actions_for(proposes):
    """(N, 3) actor actions where agent n proposes iff proposes[n]."""
    first = np.where(np.asarray(proposes, bool), 0.5, -0.5)
    return jnp.asarray(
        np.stack([first, np.zeros_like(first), np.zeros_like(first)], axis=1),
        jnp.float32,
    )


def run(
    proposes,
    q_values,
    task_sizes,
    max_accepted,
    *,
    epsilon=0.0,
    explore=True,
    seed=0,
    storage_mb=STORAGE_MB,
):
    return select_offloading(
        jax.random.PRNGKey(seed),
        actions_for(proposes),
        jnp.asarray(q_values, jnp.float32),
        jnp.asarray(task_sizes, jnp.float32),
        jnp.float32(epsilon),
        jnp.bool_(explore),
        max_accepted,
        storage_mb,
    )


def assert_selected(result, expected, exceeded):
    assert isinstance(result, OffloadSelection)
    assert result.selected.dtype == jnp.float32
    assert result.selected.shape == (len(expected),)
    np.testing.assert_array_equal(np.asarray(result.selected), np.asarray(expected, np.float32))
    assert result.constraint_exceeded.shape == ()
    assert bool(result.constraint_exceeded) is exceeded


@functools.partial(jax.jit, static_argnames="max_accepted")
def batched_random_selection(keys, actions, q_values, task_sizes, max_accepted):
    """Random-branch selections (epsilon=1, explore=True) for many keys."""
    return jax.vmap(
        lambda key: select_offloading(
            key,
            actions,
            q_values,
            task_sizes,
            jnp.float32(1.0),
            jnp.bool_(True),
            max_accepted,
            STORAGE_MB,
        )
    )(keys)


def test_no_proposers_selects_nothing():
    result = run([0] * 6, [9.0] * 6, [500.0] * 6, max_accepted=3, epsilon=1.0)
    assert_selected(result, [0] * 6, exceeded=False)


def test_proposers_within_limits_are_all_accepted():
    result = run([1, 0, 1, 0, 0, 1], [0.0] * 6, [50.0] * 6, max_accepted=3, epsilon=1.0)
    assert_selected(result, [1, 0, 1, 0, 0, 1], exceeded=False)


def test_zero_first_action_counts_as_proposal():
    actions = jnp.zeros((4, 3), jnp.float32).at[:, 0].set(jnp.array([0.0, -1e-6, 1.0, -1.0]))
    result = select_offloading(
        jax.random.PRNGKey(0),
        actions,
        jnp.zeros(4),
        jnp.full(4, 10.0),
        jnp.float32(0.0),
        jnp.bool_(False),
        2,
        STORAGE_MB,
    )
    assert_selected(result, [1, 0, 1, 0], exceeded=False)


def test_storage_sum_equal_to_capacity_is_not_exceeded():
    result = run([1, 1, 0], [0.0] * 3, [100.0, 300.0, 50.0], max_accepted=10)
    assert_selected(result, [1, 1, 0], exceeded=False)


COUNT_CASE = dict(
    proposes=[1, 1, 1, 0, 1, 0, 1, 0],
    # Agents 3 and 7 do not propose but have the largest Q.
    q_values=[0.1, 0.9, 0.5, 100.0, 0.7, 0.0, 0.2, 50.0],
    task_sizes=[10.0] * 8,
    max_accepted=3,
)
# Proposers by descending Q: 1 (0.9), 4 (0.7), 2 (0.5), 6 (0.2), 0 (0.1).
COUNT_CASE_GREEDY = [0, 1, 1, 0, 1, 0, 0, 0]


def test_count_exceeded_greedy_takes_top_q_proposers():
    result = run(**COUNT_CASE, epsilon=0.0)
    assert_selected(result, COUNT_CASE_GREEDY, exceeded=True)


def test_storage_exceeded_greedy_skips_task_reaching_capacity():
    # Visit order 0, 1, 2, 3. Agent 1 would bring the total to exactly 400 MB,
    # which is not strictly below storage, so it is skipped; 2 and 3 still fit.
    result = run(
        [1, 1, 1, 1, 0],
        [0.9, 0.8, 0.7, 0.6, 5.0],
        [100.0, 300.0, 50.0, 200.0, 10.0],
        max_accepted=10,
    )
    assert_selected(result, [1, 0, 1, 1, 0], exceeded=True)


def test_storage_exceeded_greedy_accepts_just_below_capacity():
    # Agent 1 brings the total to 399 MB (< 400), then 2 and 3 no longer fit.
    result = run(
        [1, 1, 1, 1, 0],
        [0.9, 0.8, 0.7, 0.6, 5.0],
        [100.0, 299.0, 50.0, 200.0, 10.0],
        max_accepted=10,
    )
    assert_selected(result, [1, 1, 0, 0, 0], exceeded=True)


def test_greedy_ties_visit_higher_index_first():
    proposes = [1, 1, 1, 0, 1, 0]
    q_values = [0.5, 0.5, 0.3, 0.5, 0.5, 0.0]
    # Proposers with q=0.5 are 0, 1, 4: visited 4, 1, 0, then 2.
    result = run(proposes, q_values, [10.0] * 6, max_accepted=2)
    assert_selected(result, [0, 1, 0, 0, 1, 0], exceeded=True)
    # Agent 4 alone fills the storage (400 is not < 400): 1 and 0 follow.
    result = run(proposes, q_values, [10.0, 10.0, 10.0, 10.0, 400.0, 10.0], max_accepted=2)
    assert_selected(result, [1, 1, 0, 0, 0, 0], exceeded=True)


def test_greedy_tie_order_matches_numpy_stable_argsort():
    rng = np.random.default_rng(3)
    for _ in range(20):
        proposes = rng.random(12) < 0.7
        q_values = rng.integers(0, 3, 12).astype(np.float32)
        task_sizes = rng.uniform(20.0, 150.0, 12).astype(np.float32)
        masked_q = np.where(proposes, q_values, -np.inf)
        expected = np.zeros(12, np.float32)
        count, total = 0, np.float32(0.0)
        for agent in np.argsort(masked_q, kind="stable")[::-1]:
            if proposes[agent] and count < 4 and total + task_sizes[agent] < STORAGE_MB:
                expected[agent] = 1.0
                count += 1
                total += task_sizes[agent]
        result = run(proposes, q_values, task_sizes, max_accepted=4, explore=False)
        exceeded = bool(proposes.sum() > 4 or task_sizes[proposes].sum() > STORAGE_MB)
        if exceeded:
            np.testing.assert_array_equal(np.asarray(result.selected), expected)
        assert bool(result.constraint_exceeded) is exceeded


@pytest.mark.parametrize("seed", range(5))
def test_explore_false_never_takes_random_branch(seed):
    result = run(**COUNT_CASE, epsilon=1.0, explore=False, seed=seed)
    assert_selected(result, COUNT_CASE_GREEDY, exceeded=True)


@pytest.mark.parametrize("seed", range(5))
def test_zero_epsilon_never_takes_random_branch(seed):
    result = run(**COUNT_CASE, epsilon=0.0, explore=True, seed=seed)
    assert_selected(result, COUNT_CASE_GREEDY, exceeded=True)


def test_random_branch_draws_uniformly_from_all_agents():
    num_agents, max_accepted, num_keys = 10, 4, 4000
    proposes = [1] * 6 + [0] * 4
    result = batched_random_selection(
        jax.random.split(jax.random.PRNGKey(1), num_keys),
        actions_for(proposes),
        jnp.arange(num_agents, dtype=jnp.float32),
        jnp.full(num_agents, 10.0),
        max_accepted,
    )
    selected = np.asarray(result.selected)
    assert np.all(np.asarray(result.constraint_exceeded))
    assert set(np.unique(selected)) <= {0.0, 1.0}
    np.testing.assert_array_equal(selected.sum(axis=1), max_accepted)
    # Non-proposers 6..9 are drawn too, and the greedy choice is not forced.
    assert selected[:, 6:].sum() > 0
    assert not np.all(selected == selected[0])
    np.testing.assert_allclose(selected.mean(axis=0), max_accepted / num_agents, atol=0.04)


def test_random_branch_trims_to_storage():
    num_agents, max_accepted = 8, 4
    result = batched_random_selection(
        jax.random.split(jax.random.PRNGKey(2), 200),
        actions_for([1] * num_agents),
        jnp.zeros(num_agents),
        jnp.full(num_agents, 150.0),
        max_accepted,
    )
    selected = np.asarray(result.selected)
    # 150 + 150 = 300 <= 400 but a third task would make 450.
    np.testing.assert_array_equal(selected.sum(axis=1), 2)


def test_random_branch_drops_from_end_of_random_order():
    # One 390 MB task among 10 MB ones, 4 drawn, storage 400 MB. With the big
    # task at position p of the draw, cumulative sizes and kept agents are
    #   p=0: 390 400 410 420 -> big + 1 small     p=1: 10 400 410 420 -> 1 small + big
    #   p=2: 10 20 410 420   -> 2 small           p=3: 10 20 30 420   -> 3 small
    # and 4 small ones are kept if it is not drawn. So the big task is selected
    # with probability 2/10, always with exactly one other agent (the sum 400
    # is allowed); 2, 3, 4 agents are selected with probability 3/10, 1/10, 6/10.
    num_agents, max_accepted, num_keys = 10, 4, 4000
    task_sizes = jnp.full(num_agents, 10.0).at[0].set(390.0)
    result = batched_random_selection(
        jax.random.split(jax.random.PRNGKey(3), num_keys),
        actions_for([1] * num_agents),
        jnp.zeros(num_agents),
        task_sizes,
        max_accepted,
    )
    selected = np.asarray(result.selected)
    counts = selected.sum(axis=1)
    big_selected = selected[:, 0] == 1.0
    assert np.all(selected @ np.asarray(task_sizes) <= STORAGE_MB)
    np.testing.assert_array_equal(counts[big_selected], 2)
    np.testing.assert_allclose(big_selected.mean(), 0.2, atol=0.03)
    np.testing.assert_allclose((counts == 2).mean(), 0.3, atol=0.03)
    np.testing.assert_allclose((counts == 3).mean(), 0.1, atol=0.03)
    np.testing.assert_allclose((counts == 4).mean(), 0.6, atol=0.03)


def test_random_branch_only_when_constraint_exceeded():
    result = run([1, 0, 1, 0, 0, 1], [0.0] * 6, [50.0] * 6, max_accepted=3, epsilon=1.0)
    assert_selected(result, [1, 0, 1, 0, 0, 1], exceeded=False)


def test_jit_and_vmap_match_unbatched_calls():
    batch, num_agents, max_accepted = 16, 9, 3
    rng = np.random.default_rng(0)
    keys = jax.random.split(jax.random.PRNGKey(4), batch)
    actions = jnp.asarray(rng.uniform(-1.0, 1.0, (batch, num_agents, 3)), jnp.float32)
    q_values = jnp.asarray(rng.integers(0, 4, (batch, num_agents)), jnp.float32)
    task_sizes = jnp.asarray(rng.uniform(10.0, 200.0, (batch, num_agents)), jnp.float32)
    epsilon = jnp.asarray(rng.choice([0.0, 0.5, 1.0], batch), jnp.float32)
    explore = jnp.asarray(rng.random(batch) < 0.7)
    storage_mb = jnp.asarray(rng.choice([250.0, 400.0], batch), jnp.float32)

    batched = jax.jit(jax.vmap(functools.partial(select_offloading, max_accepted=max_accepted)))(
        keys, actions, q_values, task_sizes, epsilon, explore, storage_mb=storage_mb
    )
    jitted_single = jax.jit(select_offloading, static_argnames="max_accepted")

    for i in range(batch):
        args = (keys[i], actions[i], q_values[i], task_sizes[i], epsilon[i], explore[i])
        for single in (
            select_offloading(*args, max_accepted, float(storage_mb[i])),
            jitted_single(*args, max_accepted=max_accepted, storage_mb=storage_mb[i]),
        ):
            np.testing.assert_array_equal(np.asarray(batched.selected[i]), np.asarray(single.selected))
            assert bool(batched.constraint_exceeded[i]) == bool(single.constraint_exceeded)
    # The batch covers both branches of the constraint check.
    assert 0 < int(batched.constraint_exceeded.sum()) < batch


def test_rejects_wrong_shapes():
    with pytest.raises(AssertionError):
        select_offloading(
            jax.random.PRNGKey(0),
            jnp.zeros((5, 2)),
            jnp.zeros(5),
            jnp.zeros(5),
            jnp.float32(0.0),
            jnp.bool_(True),
            3,
        )
    with pytest.raises(AssertionError):
        select_offloading(
            jax.random.PRNGKey(0),
            jnp.zeros((5, 3)),
            jnp.zeros(4),
            jnp.zeros(5),
            jnp.float32(0.0),
            jnp.bool_(True),
            3,
        )
