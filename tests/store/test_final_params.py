"""A finished run keeps every lane's trained parameters, named, when its checkpoint is deleted."""

import jax
import pytest

import jaxmadrl
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
