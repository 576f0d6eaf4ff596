"""The MEC environment: hand-worked values, an independent oracle, reference parity, JAX transforms."""

import json
import pathlib

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from spec_oracle import oracle_step

from jaxmadrl.envs import mec as env

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "reference_env_steps.json"
KEY = jax.random.key(0)
jitted_step = jax.jit(env.step)  # EnvParams has only static fields: one compile per setting


def one_step(params, action, **arrays):
    state = env.state_from_arrays(**arrays)
    obs, next_state, reward, done, info = jitted_step(KEY, state, jnp.asarray(action, jnp.float32), params)
    return float(reward), next_state, info


def single_device(**overrides):
    arrays = dict(
        power_dbm=[30.0], gain_db=[0.0], compute_ghz=[1.0], battery=[1.0], size_mb=[1.0], cycles=[300.0], deadline=[0.5]
    )
    arrays.update({k: [v] for k, v in overrides.items()})
    return arrays


# Worked by hand from docs/SPEC.md §1: 1 MB, 300 cycles/bit, 1 GHz at alpha = 1; 30 dBm at rho = 1
# is 1 W, and 0 dB gain gives SNR 1, so the rate is 40e6 * log2(2) / 10 = 4e6 bit/s.
@pytest.mark.parametrize(
    "scaling, expected",
    [
        # thesis: 8192 bits, T = 8192*300/1e9 = 2.4576e-3 s, E = 5e-27*2457600*1e9 J.
        ("thesis", -(0.5 * 1.2288e-11 + 0.5 * 2.4576e-3)),
        # updated: T = 2.5165824 s -> 1 (deadline 0.5 -> penalty 0.5), E = 5e-27*2.5165824e9*1e18 J.
        ("updated", -(0.5 * 12.582912 + 0.5 * 1.0 + 0.5 * 0.5)),
    ],
)
def test_all_local_by_hand(scaling, expected):
    reward, next_state, info = one_step(
        env.EnvParams(n_agents=1, scaling=scaling), [[0.0, 1.0, 1.0]], **single_device()
    )
    np.testing.assert_allclose(reward, expected, rtol=1e-6)
    assert float(info["time_violation"]) == (1.0 if scaling == "updated" else 0.0)
    assert float(info["energy_violation"]) == 0.0


@pytest.mark.parametrize("mode", ["H2", "TOBM"])
def test_single_offload_by_hand(mode):
    # thesis: T_off = 8192/4e6 = 2.048e-3 s, T_proc = 8192*300/4e9 = 6.144e-4 s, E = 1 W * T_off.
    reward, _, _ = one_step(
        env.EnvParams(n_agents=1, scaling="thesis", mode=mode), [[1.0, 1.0, 1.0]], **single_device()
    )
    np.testing.assert_allclose(reward, -(0.5 * 2.048e-3 + 0.5 * (2.048e-3 + 6.144e-4)), rtol=1e-6)


def test_queue_quirk_by_hand_through_step():
    # One server unit, three offloaded tasks of 1, 2, 3 MB (thesis scaling):
    # T_off = 2.048e-3*d, T_proc = 6.144e-4*d. Task 0 finishes at 2.6624e-3. Before task 1,
    # T_proc[0] is added to the unit (3.2768e-3); it finishes at max(4.096e-3, 3.2768e-3)
    # + 1.2288e-3 = 5.3248e-3. Before task 2, T_proc[0] and T_proc[1] are added (7.168e-3);
    # it finishes at 7.168e-3 + 1.8432e-3 = 9.0112e-3, past its 5e-3 deadline.
    params = env.EnvParams(n_agents=3, scaling="thesis", n_units=1)
    arrays = dict(
        power_dbm=[30.0] * 3,
        gain_db=[0.0] * 3,
        compute_ghz=[1.0] * 3,
        battery=[1.0] * 3,
        size_mb=[1.0, 2.0, 3.0],
        cycles=[300.0] * 3,
        deadline=[0.1, 0.1, 0.005],
    )
    reward, _, info = one_step(params, [[1.0, 1.0, 1.0]] * 3, **arrays)
    times = 2.6624e-3 + 5.3248e-3 + 9.0112e-3
    energies = 2.048e-3 * (1 + 2 + 3)
    np.testing.assert_allclose(reward, -0.5 * (energies + times + (9.0112e-3 - 5e-3)), rtol=1e-5)
    np.testing.assert_allclose(float(info["time_violation"]), 1 / 3)


def test_h2_finish_times_by_hand():
    # Two units; offloaded tasks in upload order have T_off 1,2,3,4 and T_proc 10,20,30,40;
    # agent 4 is not offloaded although its upload would be first.
    # k=0: 1+10=11, U=[11,0]; k=1: 2+20=22, U=[11,22];
    # k=2: add 10 -> [21,22], add 20 -> [41,22]; 22+30=52, U=[41,52];
    # k=3: add 10 -> [51,52], add 20 -> [71,52], add 30 -> [71,82]; 71+40=111.
    t_off = jnp.array([3.0, 1.0, 4.0, 2.0, 0.5])
    t_proc = jnp.array([30.0, 10.0, 40.0, 20.0, 5.0])
    offloaded = jnp.array([True, True, True, True, False])
    finish = env.h2_finish_times(offloaded, t_off, t_proc, n_units=2)
    np.testing.assert_allclose(finish, [52.0, 11.0, 111.0, 22.0, 0.0])


def test_h2_finish_times_ties_take_first_index():
    # Equal upload times are visited in index order; equal unit times fill the first unit.
    finish = env.h2_finish_times(
        jnp.array([True, True, True]), jnp.array([1.0, 1.0, 1.0]), jnp.array([5.0, 3.0, 1.0]), n_units=2
    )
    # k=0 -> 6, U=[6,0]; k=1 -> 4, U=[6,4]; k=2: add 5 -> [6,9], add 3 -> [9,9];
    # finish = max(1, 9) + 1 = 10.
    np.testing.assert_allclose(finish, [6.0, 4.0, 10.0])


def test_energy_penalty_by_hand():
    # Battery 0.5 MJ minus 12.582912 J plus 1e-3 J: 12.581912 J below the floor.
    reward, next_state, info = one_step(env.EnvParams(n_agents=1), [[0.0, 1.0, 1.0]], **single_device(battery=0.5))
    expected = -(0.5 * (12.582912 + 12.581912) + 0.5 * (1.0 + 0.5))
    # float32 resolves a battery near 0.5 MJ to ~3e-8 MJ, i.e. ~0.03 J of penalty.
    np.testing.assert_allclose(reward, expected, atol=0.05)
    np.testing.assert_allclose(float(next_state.battery_mj[0]), 0.5 - 12.581912e-6, rtol=1e-7)
    assert float(info["energy_violation"]) == 1.0


def test_empty_battery_by_hand():
    # 1 J left, 12.58 J spent: the battery clips to 0, time becomes 1, penalty 0.5e6.
    reward, next_state, _ = one_step(env.EnvParams(n_agents=1), [[0.0, 1.0, 1.0]], **single_device(battery=1e-6))
    assert float(next_state.battery_mj[0]) == 0.0
    np.testing.assert_allclose(reward, -(0.5 * (12.582912 + 0.5e6) + 0.5 * (1.0 + 0.5)), rtol=1e-6)


def random_case(rng, n, n_offloaded):
    arrays = dict(
        power_dbm=rng.uniform(1, 24, n),
        gain_db=rng.uniform(5, 14, n),
        compute_ghz=rng.uniform(0.4, 1.5, n),
        battery=rng.uniform(0.5, 3.2, n),
        size_mb=rng.uniform(1, 50, n),
        cycles=rng.uniform(300, 737.5, n),
        deadline=rng.uniform(0.1, 0.9, n),
    )
    arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
    x = np.zeros(n, np.float32)
    x[rng.permutation(n)[:n_offloaded]] = 1.0
    action = np.stack([x, rng.uniform(0.01, 1, n), rng.uniform(0.01, 1, n)], 1).astype(np.float32)
    return arrays, action


@pytest.mark.parametrize("mode", ["H2", "TOBM"])
@pytest.mark.parametrize("scaling", ["updated", "thesis"])
@pytest.mark.parametrize("n_offloaded", [0, 5, 9, 10, 20])
def test_matches_independent_oracle(mode, scaling, n_offloaded):
    rng = np.random.default_rng(n_offloaded)
    arrays, action = random_case(rng, 20, n_offloaded)
    reward, next_state, info = one_step(env.EnvParams(n_agents=20, mode=mode, scaling=scaling), action, **arrays)
    as64 = {k: v.astype(np.float64).tolist() for k, v in arrays.items()}
    expected = oracle_step(**as64, action=action.astype(np.float64).tolist(), mode=mode, scaling=scaling)
    exp_reward, exp_battery, exp_energy_violation, exp_time_violation = expected
    np.testing.assert_allclose(reward, exp_reward, rtol=1e-5)
    np.testing.assert_allclose(next_state.battery_mj, exp_battery, rtol=1e-6)
    np.testing.assert_allclose(float(info["energy_violation"]), exp_energy_violation)
    np.testing.assert_allclose(float(info["time_violation"]), exp_time_violation)


def reference_cases():
    return json.loads(DATA.read_text())["cases"]


def test_reference_parity_covers_what_it_should():
    cases = reference_cases()
    assert len(cases) >= 30
    assert {c["n_agents"] for c in cases} == {5, 12, 50}
    offloaded = [sum(a[0] for a in c["action"]) for c in cases]
    assert any(n in (9, 10) for n in offloaded) and max(offloaded) > 10
    assert any(c["energy_violation"] > 0 for c in cases)


@pytest.mark.parametrize("case", reference_cases(), ids=lambda c: f"{c['n_agents']}-{c['mode']}-{c['kind']}")
def test_reference_parity(case):
    params = env.EnvParams(n_agents=case["n_agents"], mode=case["mode"])
    keys = ("power_dbm", "gain_db", "compute_ghz", "battery", "size_mb", "cycles", "deadline")
    reward, next_state, info = one_step(params, case["action"], **{k: case[k] for k in keys})
    np.testing.assert_allclose(reward, case["reward"], rtol=1e-5)
    np.testing.assert_allclose(next_state.battery_mj, case["next_battery"], rtol=1e-5)
    np.testing.assert_allclose(float(info["energy_violation"]), case["energy_violation"], atol=1e-6)
    np.testing.assert_allclose(float(info["time_violation"]), case["time_violation"], atol=1e-6)


def test_reset_draws_in_range():
    params = env.EnvParams(n_agents=200)
    world = env.make_world(jax.random.key(1), params)
    obs, state = env.reset(jax.random.key(2), world, params)
    chex.assert_shape(obs, (200, env.OBS_DIM))
    chex.assert_type(obs, jnp.float32)
    chex.assert_tree_all_finite(obs)
    lows = [1, 5, 0.5, 1, 300, 0.1, 0.4]
    highs = [24, 14, 3.2, 50, 737.5, 0.9, 1.5]
    assert np.all(obs >= np.array(lows, np.float32)) and np.all(obs <= np.array(highs, np.float32))
    assert int(state.step) == 0


def _numpy_reference_world(n_agents, seed):
    """The reference implementation's world, drawn as it draws it: NumPy's global legacy
    generator seeded once, then per device power, initial energy, gain and compute."""
    np.random.seed(seed)
    draws = [
        [np.random.uniform(low, high) for low, high in ((1, 24), (0.5, 3.2), (5, 14), (0.4, 1.5))]
        for _ in range(n_agents)
    ]
    power, energy, gain, compute = np.array(draws).T
    return power, gain, compute, energy


@pytest.mark.parametrize("n_agents, seed", [(1, 42), (3, 42), (50, 42), (7, 0)])
def test_reference_world_is_the_reference_numpy_draw(n_agents, seed):
    world = env.reference_world(n_agents, seed=seed)
    expected = _numpy_reference_world(n_agents, seed)
    for got, want in zip((world.power_dbm, world.gain_db, world.compute_ghz, world.initial_energy_mj), expected):
        assert got.dtype == np.float64 and got.shape == (n_agents,)
        np.testing.assert_array_equal(got, want)  # bit for bit
    # A world of fewer devices is the first devices of a larger one, as in the reference.
    np.testing.assert_array_equal(
        env.reference_world(3, seed=seed).power_dbm, env.reference_world(50, seed=seed).power_dbm[:3]
    )


def test_world_reference_ignores_the_key_and_is_float32():
    params = env.EnvParams(n_agents=5, world="reference")
    first, second = (env.make_world(jax.random.key(k), params) for k in (1, 2))
    chex.assert_trees_all_equal(first, second)
    chex.assert_type(first.power_dbm, jnp.float32)
    expected = _numpy_reference_world(5, 42)
    for got, want in zip((first.power_dbm, first.gain_db, first.compute_ghz, first.initial_energy_mj), expected):
        np.testing.assert_array_equal(got, want.astype(np.float32))
    drawn = env.make_world(jax.random.key(1), env.EnvParams(n_agents=5))
    assert not np.array_equal(drawn.power_dbm, first.power_dbm)


def test_jit_vmap_many_envs_without_retracing():
    params = env.EnvParams()
    n_envs = 1024

    @jax.jit
    @chex.assert_max_traces(n=1)
    def batched_step(keys, states, actions):
        return jax.vmap(env.step, in_axes=(0, 0, 0, None))(keys, states, actions, params)

    keys = jax.random.split(KEY, n_envs)
    worlds = jax.vmap(env.make_world, in_axes=(0, None))(keys, params)
    obs, states = jax.vmap(env.reset, in_axes=(0, 0, None))(keys, worlds, params)
    chex.assert_shape(obs, (n_envs, params.n_agents, env.OBS_DIM))
    actions = jax.random.uniform(KEY, (n_envs, params.n_agents, env.ACTION_DIM), minval=0.01)
    actions = actions.at[..., 0].set(jnp.round(actions[..., 0]))
    first = jax.tree.map(lambda x: x[7], states)
    for _ in range(3):
        obs, states, rewards, dones, info = batched_step(keys, states, actions)
        if _ == 0:
            _, single_state, single_reward, _, _ = env.step(keys[7], first, actions[7], params)
            np.testing.assert_allclose(single_reward, rewards[7], rtol=1e-6)
            np.testing.assert_allclose(single_state.battery_mj, states.battery_mj[7], rtol=1e-6)
    chex.assert_shape([rewards, dones], (n_envs,))
    chex.assert_tree_all_finite((obs, rewards, info))
    assert bool(jnp.all(states.step == 3))


def test_episode_scan_ends_with_done_at_steps_per_episode():
    params = env.EnvParams(n_agents=12, steps_per_episode=6)
    world = env.make_world(jax.random.key(3), params)
    obs, state = env.reset(jax.random.key(4), world, params)
    action = env.to_env_action(jnp.zeros(12), jnp.zeros((12, 3)))

    def body(state, key):
        _, state, reward, done, _ = env.step(key, state, action, params)
        return state, (reward, done)

    state, (rewards, dones) = jax.lax.scan(body, state, jax.random.split(KEY, params.steps_per_episode))
    assert dones.tolist() == [False] * 5 + [True]
    chex.assert_tree_all_finite(rewards)
    assert bool(jnp.all(rewards < 0))


def test_actor_output_to_fraction_bounds():
    fractions = env.actor_output_to_fraction(jnp.array([-1.0, 0.0, 1.0]))
    np.testing.assert_allclose(fractions, [0.01, 0.505, 1.0], rtol=1e-6)


@pytest.mark.parametrize(
    "field, value",
    [
        ("mode", "H3"),
        ("scaling", "metric"),
        ("world", "moon"),
        ("n_agents", 0),
        ("steps_per_episode", 0),
        ("n_units", -1),
    ],
)
def test_bad_params_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        env.EnvParams(**{field: value})
