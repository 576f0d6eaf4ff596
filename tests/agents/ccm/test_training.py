"""The whole training program: one compilation, determinism, chunking, and the paper's
mechanism at full size (marked ``fullsize``; part of the default run)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from programs import assert_programs_agree

from jaxmadrl.agents import diagnostics, normalisation
from jaxmadrl.agents.ccm import losses, rollout
from jaxmadrl.agents.ccm.training import explore_episode, make_trainer
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.networks import OUTPUT_INIT_BOUND
from jaxmadrl.agents.scaffold import episode_clock, networks_of
from jaxmadrl.agents.trainers import make_train
from jaxmadrl.envs import mec as env
from jaxmadrl.envs.mec import EnvParams

pytestmark = pytest.mark.program  # each test compiles a training program

EPISODES, STEPS = 6, 3
TINY = TrainConfig(
    env=EnvParams(n_agents=3, steps_per_episode=STEPS),
    episodes=EPISODES,
    batch_size=8,
    replay_capacity=32,
    eval_every=2,
    eval_episodes=2,
    critic_hidden=(32, 16),
)


def hparams(actor_lr, critic_lr):
    return HyperParams(actor_lr=jnp.float32(actor_lr), critic_lr=jnp.float32(critic_lr))


@pytest.fixture(scope="module")
def tiny_train():
    return jax.jit(chex.assert_max_traces(make_train(TINY), n=1))


@pytest.fixture(scope="module")
def tiny_run(tiny_train):
    return tiny_train(jax.random.key(0), hparams(1e-3, 1e-3))


def test_compiles_once_for_any_learning_rate(tiny_train, tiny_run):
    state_a, _ = tiny_run
    state_b, metrics_b = tiny_train(jax.random.key(0), hparams(1e-1, 1e-2))  # no retrace (max 1)
    leaves_a = jax.tree.leaves(state_a.learner.actor_params)
    leaves_b = jax.tree.leaves(state_b.learner.actor_params)
    assert any(not np.array_equal(a, b) for a, b in zip(leaves_a, leaves_b))
    chex.assert_tree_all_finite(metrics_b["train_reward"])


def test_a_program_without_the_hidden_norms_computes_the_same(tiny_run):
    """What a sweep without full normalisation compiles: no hidden LayerNorms at all. It is
    another program, so only what two programs share is asserted (the 60-episode, 2-lane
    full-size sweep measured equal bit for bit)."""
    lean = TrainConfig(**{**TINY.__dict__, "hidden_norm_layers": False})
    state, metrics = jax.jit(make_train(lean))(jax.random.key(0), hparams(1e-3, 1e-3))
    for params in (state.learner.actor_params, state.learner.critic_params):
        assert not any(name.startswith("hidden_norm") for name in params["params"])
    assert_programs_agree(metrics, tiny_run[1])


def test_full_normalisation_is_a_traced_variant(tiny_train, tiny_run):
    """The same compiled program: the actors start with PyTorch's default output scale
    and train through their normalised inputs."""
    full = hparams(1e-3, 1e-3).replace(full_normalisation=1.0)
    state, metrics = tiny_train(jax.random.key(0), full)  # no retrace (max 1)
    chex.assert_tree_all_finite(metrics["critic_loss"][1:])
    chex.assert_tree_all_finite(state.learner.actor_input_stats)
    initial = jax.jit(make_trainer(TINY).init)(jax.random.key(0), full).learner.actor_params["params"]["fc3"]
    assert float(jnp.max(jnp.abs(initial["kernel"]))) > 10 * OUTPUT_INIT_BOUND
    baseline_state, baseline = tiny_run
    assert not np.array_equal(metrics["train_reward"], baseline["train_reward"])
    assert not np.array_equal(
        state.learner.actor_params["params"]["hidden_norm1"]["scale"],
        baseline_state.learner.actor_params["params"]["hidden_norm1"]["scale"],
    )


def test_every_seed_of_the_reference_world_trains_on_the_reference_devices():
    config = TrainConfig(**{**TINY.__dict__, "env": EnvParams(n_agents=3, steps_per_episode=STEPS, world="reference")})
    init = jax.jit(make_trainer(config).init)
    worlds = [init(jax.random.key(seed), hparams(1e-3, 1e-3)).world for seed in (0, 1)]
    reference = jax.tree.map(lambda x: x.astype(np.float32), env.reference_world(3))
    chex.assert_trees_all_equal(worlds[0], worlds[1], reference)
    drawn = jax.jit(make_trainer(TINY).init)(jax.random.key(0), hparams(1e-3, 1e-3)).world
    assert not np.array_equal(drawn.power_dbm, worlds[0].power_dbm)


def test_same_key_is_bit_identical(tiny_train, tiny_run):
    _, metrics = tiny_run
    _, again = tiny_train(jax.random.key(0), hparams(1e-3, 1e-3))
    for name in metrics:
        np.testing.assert_array_equal(metrics[name], again[name], err_msg=name)
    _, other_seed = tiny_train(jax.random.key(1), hparams(1e-3, 1e-3))
    assert not np.array_equal(metrics["train_reward"], other_seed["train_reward"])


def test_metrics_are_fixed_size_per_episode(tiny_run):
    state, metrics = tiny_run
    n = TINY.env.n_agents
    chex.assert_shape([metrics["train_reward"], metrics["saturation"], metrics["grad_ratio"]], (EPISODES,))
    chex.assert_shape([metrics["actor_max_delta"], metrics["actor_grad_norm_agents"]], (EPISODES, n))
    chex.assert_shape([metrics["actor_grad_norm_layers"], metrics["critic_grad_norm_layers"]], (EPISODES, 3))
    # Training starts after the first episode; evaluation every 2nd episode.
    np.testing.assert_array_equal(metrics["trained"], [False] + [True] * (EPISODES - 1))
    assert np.isnan(metrics["critic_loss"][0]) and np.all(np.isfinite(metrics["critic_loss"][1:]))
    np.testing.assert_array_equal(np.isfinite(metrics["eval_reward"]), [False, True] * (EPISODES // 2))
    np.testing.assert_allclose(metrics["epsilon"], 0.01 + 0.99 * np.exp(-np.arange(EPISODES) / 2000), rtol=1e-6)
    assert int(state.memory.size) == EPISODES * STEPS
    assert np.all(metrics["train_reward"] < 0)
    assert np.all((metrics["saturation"][1:] >= 0) & (metrics["saturation"][1:] <= 1))


def test_chunks_with_padding_equal_one_run(tiny_run):
    trainer = make_trainer(TINY)
    hp = hparams(1e-3, 1e-3)
    run_chunk = jax.jit(trainer.run_episodes)
    state = jax.jit(trainer.init)(jax.random.key(0), hp)
    state, first = run_chunk(state, episode_clock(TINY, jnp.arange(0, 4)), hp)
    state, second = run_chunk(state, episode_clock(TINY, jnp.arange(4, 8)), hp)  # episodes 6 and 7 are padding
    assert np.all(np.isnan(second["train_reward"][2:])) and not np.any(second["trained"][2:])
    whole_state, whole = tiny_run
    # Scans of 4 and of 6 episodes are different programs (tests/programs.py).
    assert_programs_agree({name: np.concatenate([first[name], second[name][:2]]) for name in whole}, whole)
    # At actor LR 1e-3 every actor changes in every train step, in either program.
    np.testing.assert_array_equal(state.tracker.actor_last_changed, whole_state.tracker.actor_last_changed)


def test_sequential_actor_update_runs_and_differs(tiny_run):
    config = TrainConfig(**{**TINY.__dict__, "actor_update": "sequential", "episodes": 3})
    state, metrics = jax.jit(make_train(config))(jax.random.key(0), hparams(1e-3, 1e-3))
    chex.assert_tree_all_finite(metrics["critic_loss"][1:])
    simultaneous_kernel = tiny_run[0].learner.actor_params["params"]["fc3"]["kernel"]
    assert not np.array_equal(state.learner.actor_params["params"]["fc3"]["kernel"], simultaneous_kernel)


def test_stochastic_actors_explore_by_their_samples_and_evaluate_by_their_means():
    """A run of stochastic actors with the entropy bonus is finite; an exploring step acts by
    a sample of the policies, whose actions differ from the greedy tanh(μ)."""
    config = TrainConfig(**{**TINY.__dict__, "stochastic_actors": True, "episodes": 3})
    bonus = hparams(1e-3, 1e-3).replace(entropy_coef=jnp.float32(0.01))
    state, metrics = jax.jit(make_train(config))(jax.random.key(0), bonus)
    chex.assert_tree_all_finite([metrics[name][1:] for name in ("critic_loss", "actor_grad_norm", "saturation")])
    assert np.isfinite(metrics["eval_reward"][1])
    networks = networks_of(config)

    @jax.jit  # one program: eagerly, every operation would be compiled on its own
    def greedy_and_explored(learner, world):
        obs, env_state = env.reset(jax.random.key(6), world, config.env)
        greedy, _ = losses.actor_outputs(networks, learner.actor_params, obs, learner.actor_input_stats, bonus)
        _, _, explored, _, _ = rollout.act_and_step(
            jax.random.key(7), env_state, obs, learner, networks, config.env, bonus, jnp.float32(0.0), explore=True
        )
        return greedy, explored.actions

    greedy, explored = greedy_and_explored(state.learner, state.world)
    assert not np.allclose(explored, greedy) and np.all(np.abs(greedy) < 1)


# Long enough for every actor to stop at actor and critic LR 0.1 (at episode 161 here on Intel
# AVX-512 and AVX2) and for 200 episodes of learning at low actor LR.
FULL = TrainConfig(episodes=200)


@pytest.fixture(scope="module")
def full_train():
    return jax.jit(make_train(FULL))


@pytest.mark.fullsize
def test_high_actor_lr_saturates_and_every_actor_stops(full_train):
    state, metrics = full_train(jax.random.key(0), hparams(0.1, 0.1))
    early = slice(1, 30)
    assert np.any(metrics["saturation"][early] > 0.9)
    assert np.any(metrics["actor_grad_norm"][early] == 0.0)
    summary = diagnostics.stopping_summary(state.tracker, FULL.episodes)
    first_unchanged = np.asarray(summary["actor_first_unchanged"])
    assert np.all(first_unchanged != diagnostics.NEVER) and np.all(first_unchanged <= FULL.episodes)
    assert int(summary["all_actors_stopped"]) == first_unchanged.max()
    assert int(summary["critic_first_unchanged"]) == diagnostics.NEVER
    # From the second train step on, pre-activations lie far outside [-2, 2].
    spread = np.maximum(np.abs(metrics["preact_max"]), np.abs(metrics["preact_min"]))[2:30]
    assert np.all(spread > 100.0)


@pytest.mark.fullsize
def test_low_actor_lr_keeps_learning(full_train):
    state, metrics = full_train(jax.random.key(0), hparams(1e-4, 1e-3))
    trained = slice(1, 200)
    assert np.all(metrics["actor_grad_norm"][trained] > 0)
    assert np.all(metrics["actor_max_delta"][trained] > 0)  # every agent, every episode
    assert np.all(metrics["critic_max_delta"][trained] > 0)
    ratio = metrics["grad_ratio"][trained]
    assert np.all((ratio > 1e-9) & (ratio < 1e-3))


def test_stored_priorities_are_the_critics_errors_step_by_step():
    """The batched insertion of an episode equals computing each step's error on its own."""
    from jaxmadrl.agents import replay
    from jaxmadrl.agents.ccm import losses

    trainer = make_trainer(TINY)
    hp = hparams(1e-3, 1e-3)
    state = jax.jit(trainer.init)(jax.random.key(3), hp)
    networks = networks_of(TINY)
    memory, learner, _ = jax.jit(explore_episode, static_argnums=(4, 5))(
        jax.random.key(4), state.world, state.learner, state.memory, networks, TINY, hp, jnp.float32(0.5)
    )
    assert int(learner.reward_stats.count) == STEPS
    # Each step's observation updated the actors' input statistics once, before acting.
    expected = state.learner.actor_input_stats
    for step in range(STEPS):
        expected = normalisation.update_input_stats(expected, memory.items.obs[step][None])
    chex.assert_trees_all_close(learner.actor_input_stats, expected, rtol=1e-6)

    @jax.jit
    def one_error(transition):
        target = losses.td_targets(networks, learner, transition.reward, transition.next_obs, transition.done, hp)
        joint, q = losses.critic_rows(networks, learner.critic_params, transition.obs, transition.actions, 0.0)
        zero = losses.zero_row_q(networks, learner.critic_params, joint, 0.0)
        return losses.squared_errors(q, transition.selected > 0, zero, target)

    for step in range(STEPS):
        transition = jax.tree.map(lambda x: x[step], memory.items)
        expected = replay.priority_from_error(one_error(transition), memory.config)
        np.testing.assert_allclose(memory.priorities[step], expected, rtol=1e-5)
    assert int(memory.size) == STEPS
