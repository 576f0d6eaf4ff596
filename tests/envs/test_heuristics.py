"""The heuristic MEC policies and the server's admission rule: limits, rules by hand, and the
learner's own evaluation episodes."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmadrl.agents.ccm import rollout
from jaxmadrl.agents.ccm.training import make_trainer
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.scaffold import networks_of
from jaxmadrl.envs import heuristics, mec
from jaxmadrl.envs.admission import admit, exceeds_limits

PARAMS = mec.EnvParams()


def random_state(seed, params=PARAMS):
    k_world, k_reset = jax.random.split(jax.random.key(seed))
    return mec.reset(k_reset, mec.make_world(k_world, params), params)[1]


def test_admission_visits_by_priority_and_skips_what_does_not_fit():
    sizes = jnp.array([300.0, 150.0, 50.0, 60.0])
    everyone = jnp.ones(4, bool)
    # In device order: 300 fits; 450 does not; 350 fits; 410 does not (strictly below 400).
    by_index = admit(everyone, -jnp.arange(4.0), sizes, 10, 400.0)
    np.testing.assert_array_equal(by_index, [1, 0, 1, 0])
    # By descending priority 50, 60, 150 (260 in all), then 300 no longer fits.
    np.testing.assert_array_equal(admit(everyone, -sizes, sizes, 10, 400.0), [0, 1, 1, 1])
    np.testing.assert_array_equal(admit(everyone, -sizes, sizes, 2, 400.0), [0, 0, 1, 1])  # two channels
    np.testing.assert_array_equal(admit(everyone.at[2].set(False), -sizes, sizes, 10, 400.0), [0, 1, 0, 1])
    assert bool(exceeds_limits(everyone, sizes, 10, 400.0)) and not bool(exceeds_limits(everyone, sizes / 2, 10, 400.0))
    assert not bool(exceeds_limits(jnp.zeros(4, bool), sizes, 0, 0.0))


@pytest.mark.parametrize("name", heuristics.HEURISTICS)
@pytest.mark.parametrize("mode", mec.MODES)
def test_every_heuristic_stays_within_the_servers_limits(name, mode):
    params = mec.EnvParams(mode=mode)
    act = jax.jit(lambda key, state: heuristics.heuristic_action(name, key, state, params))
    for seed in range(5):
        state = random_state(seed, params)
        action, _ = act(jax.random.key(seed), state)
        chex.assert_shape(action, (params.n_agents, mec.ACTION_DIM))
        admitted = np.asarray(action[:, 0]) == 1
        assert admitted.sum() <= params.max_accepted
        assert np.asarray(state.size_mb)[admitted].sum() < params.server_storage_mb
        assert np.all((action[:, 1:] >= mec.MIN_FRACTION) & (action[:, 1:] <= 1.0))


def test_all_local_and_offload_all_by_rule():
    state = random_state(0)
    local, overflow = heuristics.heuristic_action("all_local", jax.random.key(0), state, PARAMS)
    np.testing.assert_array_equal(local, np.tile([0.0, 1.0, 1.0], (PARAMS.n_agents, 1)))
    assert not bool(overflow)
    offload, overflow = heuristics.heuristic_action("offload_all", jax.random.key(0), state, PARAMS)
    sizes, expected, used = np.asarray(state.size_mb), np.zeros(PARAMS.n_agents), 0.0
    for device in range(PARAMS.n_agents):  # the plain rule: device order, while both limits allow
        if expected.sum() < PARAMS.max_accepted and used + sizes[device] < PARAMS.server_storage_mb:
            expected[device], used = 1.0, used + sizes[device]
    np.testing.assert_array_equal(offload[:, 0], expected)
    assert bool(overflow)  # 50 proposals for 10 channels


def _plain_cost(state, offload, fraction, params):
    """The model's cost of one option per device in float64, written out from docs/SPEC.md §1."""
    w = state.world
    d, c, tau = (np.asarray(x, np.float64) for x in (state.size_mb, state.cycles_per_bit, state.deadline_s))
    bits = d * 8 * 1024 * (1024 if params.scaling == "updated" else 1)
    if offload:
        power = 10 ** ((np.asarray(w.power_dbm, np.float64) - 30) / 10) * fraction
        rate = 40e6 * np.log2(1 + power * 10 ** (np.asarray(w.gain_db, np.float64) / 10)) / 10
        seconds, energy = bits / rate + bits * c / 4e9, power * bits / rate
    else:
        hz = np.asarray(w.compute_ghz, np.float64) * 1e9 * fraction
        seconds, energy = bits * c / hz, 5e-27 * bits * c * hz ** (2 if params.scaling == "updated" else 1)
    time = np.minimum(seconds, 1.0)
    return 0.5 * energy + 0.5 * (time + np.maximum(time - tau, 0.0))


@pytest.mark.parametrize("scaling", mec.SCALINGS)
def test_greedy_offloads_where_the_models_cost_says_so(scaling):
    params = mec.EnvParams(scaling=scaling)
    state = random_state(3, params)
    options = {(side, f): _plain_cost(state, side, f, params) for side in (0, 1) for f in heuristics.FRACTIONS}
    for (side, f), plain in options.items():
        np.testing.assert_allclose(heuristics.device_cost(state, side, f, params), plain, rtol=1e-5)
    local = np.minimum(options[0, mec.MIN_FRACTION], options[0, 1.0])
    remote = np.minimum(options[1, mec.MIN_FRACTION], options[1, 1.0])
    action, _ = heuristics.heuristic_action("greedy", jax.random.key(0), state, params)
    saving, sizes = local - remote, np.asarray(state.size_mb)
    expected, used = np.zeros(PARAMS.n_agents), 0.0
    for device in np.argsort(-saving):  # the plain rule: largest saving first, while the limits allow
        if saving[device] > 0 and expected.sum() < PARAMS.max_accepted and used + sizes[device] < 400.0:
            expected[device], used = 1.0, used + sizes[device]
    np.testing.assert_array_equal(np.asarray(action[:, 0]), expected)
    # Updated scaling: local energy ∝ f², so computing locally at the least compute always wins;
    # thesis scaling: more devices would gain by offloading than the 10 channels admit.
    assert (saving > 0).sum() == 0 if scaling == "updated" else (saving > 0).sum() > expected.sum() == 10
    best_alpha = np.where(options[0, mec.MIN_FRACTION] <= options[0, 1.0], mec.MIN_FRACTION, 1.0)
    np.testing.assert_array_equal(np.asarray(action[:, 1]), best_alpha.astype(np.float32))


@pytest.mark.program
def test_a_learner_that_computes_everything_locally_scores_what_all_local_scores():
    """Actors whose last layer outputs (-1, 1, 1) for every input propose nothing at full
    compute and power: the learner's own evaluation then is all_local's, on the same tasks."""
    config = TrainConfig(env=mec.EnvParams(n_agents=4, steps_per_episode=3), eval_episodes=3, critic_hidden=(16, 8))
    hparams = HyperParams(actor_lr=jnp.float32(1e-3), critic_lr=jnp.float32(1e-3))
    state = jax.jit(make_trainer(config).init)(jax.random.key(5), hparams)  # jitted: eagerly, each op compiles
    last = state.learner.actor_params["params"]["fc3"]
    local = {
        "kernel": jnp.zeros_like(last["kernel"]),
        "bias": jnp.broadcast_to(jnp.array([-10.0, 10.0, 10.0]), last["bias"].shape),
    }
    actor_params = {"params": {**state.learner.actor_params["params"], "fc3": local}}
    learner = state.learner.replace(actor_params=actor_params)
    ours = jax.jit(rollout.evaluate, static_argnums=(3, 4))(
        state.eval_key, state.world, learner, networks_of(config), config, hparams
    )
    all_local = jax.jit(
        lambda key, world: heuristics.evaluate("all_local", key, world, config.env, config.eval_episodes)
    )
    theirs = all_local(state.eval_key, state.world)
    chex.assert_trees_all_close(ours, theirs, rtol=1e-6)
    other_tasks = all_local(jax.random.key(9), state.world)
    assert float(other_tasks["reward"]) != float(theirs["reward"])


def test_unknown_heuristic_is_refused():
    with pytest.raises(ValueError, match="unknown heuristic 'smart'"):
        heuristics.heuristic_action("smart", jax.random.key(0), random_state(0), PARAMS)
