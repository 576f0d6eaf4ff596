"""A finished run keeps every lane's trained parameters, named, when its checkpoint is deleted."""

import jax
import numpy as np
import pytest
from plain_networks import actors64

import jaxmadrl
from jaxmadrl.agents import trainers
from jaxmadrl.store import checkpoints, final_params, names
from jaxmadrl.study import grid


def test_a_run_keeps_the_final_parameters_of_its_checkpoint_by_name(tiny_variant_sweep):
    run_dir, _ = tiny_variant_sweep  # its final checkpoint kept
    run = jaxmadrl.load_run(run_dir)
    kept = run.final_params()
    definition = run.definition
    template = jax.eval_shape(
        grid.make_grid(definition.train_config("highest")).init, definition.lane_keys(), definition.hyperparams()
    )
    state, done, _ = checkpoints.load_checkpoint(run_dir / names.CHECKPOINT, template, definition.digest())
    assert done == definition.episodes
    assert kept.keys() == final_params.final_params([state]).keys()
    for name, values in final_params.final_params([state]).items():
        assert kept[name].dtype == values.dtype and kept[name].tobytes() == values.tobytes(), name
    assert kept["actor_params/params/fc1/kernel"].shape == (4, 3, 7, 64)  # lanes, agents, in, out
    assert "actor_input_stats/mean" in kept and "critic_params/params/fc3/kernel" in kept
    assert not [name for name in kept if "opt_state" in name or "_target" in name]


def test_a_run_finished_before_runs_kept_parameters_says_so(tiny_sweep, tmp_path):
    run = jaxmadrl.load_run(tiny_sweep[0])
    assert run.final_params()["actor_params/params/fc1/kernel"].shape[0] == 4
    older = jaxmadrl.Run(definition=run.definition, lanes=run.lanes, metrics=run.metrics, folder=tmp_path)
    with pytest.raises(jaxmadrl.RunError, match="holds no params.npz"):
        older.final_params()


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
