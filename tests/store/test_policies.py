"""A lane's trained policy from the parameters its run kept: the actors it trained, acting as in
its program (``load_policy``), and its evaluation (``evaluate``, ``python -m jaxmadrl.evaluate``)."""

import jax
import numpy as np
import pytest
from plain_networks import actors64

import jaxmadrl
from jaxmadrl.agents import trainers
from jaxmadrl.store import checkpoints, names
from jaxmadrl.study import grid


@pytest.mark.program
def test_a_lanes_policy_acts_with_its_own_trained_actors(tiny_variant_sweep):
    run_dir, _ = tiny_variant_sweep
    run = jaxmadrl.load_run(run_dir)
    definition = run.definition
    config = definition.train_config("highest")
    template = jax.eval_shape(grid.make_grid(config).init, definition.lane_keys(), definition.hyperparams())
    state, _, _ = checkpoints.load_checkpoint(run_dir / names.CHECKPOINT, template, definition.digest())
    act = jax.jit(trainers.trainer_of(config).act)
    obs = jax.random.uniform(jax.random.key(7), (3, 7))  # 3 devices' observations
    kept = run.final_params()
    actions = []
    for lane, row in enumerate(run.lanes):
        policy = jaxmadrl.load_policy(run, lane)
        hparams = jax.tree.map(lambda x: x[lane], definition.hyperparams())
        learner = jax.tree.map(lambda x: x[lane], state.learner)
        # params.npz (zeros for the optimisers and targets it leaves out) acts as the checkpoint does
        actions.append(np.asarray(policy(obs)))
        assert actions[-1].tobytes() == np.asarray(act(learner, obs, hparams)).tobytes(), lane
        if row["variant"] == "baseline":  # the plain formulation: tanh of the ReLU network, float64
            layers = {}
            for name, values in kept.items():
                if name.startswith("actor_params/params/"):
                    layer, field = name.removeprefix("actor_params/params/").split("/")
                    layers.setdefault(layer, {})[field] = values[lane]
            plain = np.tanh(actors64({"params": layers}, np.asarray(obs)[None]))[0]
            np.testing.assert_allclose(actions[-1], plain, rtol=1e-5, atol=1e-6)
    assert len({a.tobytes() for a in actions}) == len(actions)  # each lane its own actors
    with pytest.raises(ValueError, match="lane 4 is not a lane"):
        jaxmadrl.load_policy(run, 4)


@pytest.mark.program
def test_evaluate_recomputes_the_runs_last_evaluation_and_plays_fresh_episodes(tiny_sweep):
    run = jaxmadrl.load_run(tiny_sweep[0])
    episodes = run.definition.train.eval_episodes
    for lane in range(len(run.lanes)):
        own = jaxmadrl.evaluate(run, lane, episodes, seed=None)  # the run's own evaluation episodes
        # another compiled program than the run's chunk: equal up to float32 rounding
        np.testing.assert_allclose(own["eval_reward"], run.metrics["eval_reward"][lane, -1], rtol=1e-5)
    fresh = jaxmadrl.evaluate(run, 1, episodes=4, seed=3)
    assert fresh == jaxmadrl.evaluate(run, 1, episodes=4, seed=3)  # the same episodes, the same result
    assert fresh["eval_reward"] != jaxmadrl.evaluate(run, 1, episodes=4, seed=4)["eval_reward"]
    assert sorted(fresh) == ["eval_energy_violation", "eval_reward", "eval_server_overflow", "eval_time_violation"]
