"""The trained parameters of a finished run, kept when its checkpoint is deleted:
``params.npz``, every array of every lane's final learner state but its optimiser states
and target networks (actors, critics, input and reward statistics, a learned log-std or
temperature), each with a leading lane axis and named by its
path in the learner state, e.g. ``actor_params/params/Dense_0/kernel`` (lanes, agents, in,
out). About 4 % of the checkpoint, which also holds the replay memory and the optimisers: 30 MB
for the 16 lanes of ``--all-16``, against 696 MB."""

from __future__ import annotations

import pathlib
import zipfile
from typing import Callable

import jax
import numpy as np

from jaxmadrl.agents import trainers
from jaxmadrl.core import files, numerics
from jaxmadrl.store import names
from jaxmadrl.study import grid

# A path holding one of these is an optimiser's state or a target network's copy.
LEFT_OUT = ("opt_state", "_target")


def final_params(states: list) -> dict[str, np.ndarray]:
    """The named arrays of the learner states of blocks of lanes, joined over the lanes."""
    learner = grid.join_lanes([state.learner for state in states])
    named = {_name(path): np.asarray(leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(learner)[0]}
    return {name: leaf for name, leaf in named.items() if not any(part in name for part in LEFT_OUT)}


def write(run_dir: pathlib.Path, params: dict[str, np.ndarray]) -> None:
    files.write_atomically(run_dir / names.PARAMS, lambda f: np.savez_compressed(f, **params))


def read(run_dir: pathlib.Path) -> dict[str, np.ndarray]:
    """The run's ``params.npz``; ValueError naming the file if it is missing (a run finished
    before runs kept their parameters) or cannot be read."""
    path = run_dir / names.PARAMS
    try:
        with np.load(path) as saved:
            return dict(saved)
    except FileNotFoundError:
        raise ValueError(f"{run_dir} holds no {names.PARAMS} (it finished before runs kept their parameters)") from None
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} cannot be read: {error}") from None


def _name(path) -> str:
    return jax.tree_util.keystr(path, simple=True, separator="/")


def load_policy(run, lane: int) -> Callable:
    """Lane ``lane``'s trained greedy policy of the finished ``run`` (a ``Run`` loaded from
    its folder), as a jitted function obs (N, O) → actions (N, A) in [-1, 1]: its actors'
    deterministic output (DDPG, TD3), mean (SAC: tanh of it; PPO: clipped), or for CCM-MADRL
    the clients' proposals (decision, α, ρ) before the master's selection, which also needs
    the tasks' sizes (``agents.ccm.selection``). It computes at the run's matmul precision,
    with the lane's variant settings. RunError if the run keeps no parameters, ValueError
    if ``lane`` is not one of its lanes."""
    definition, params = run.definition, run.final_params()
    if not 0 <= lane < len(definition.lanes()):
        raise ValueError(f"lane {lane} is not a lane of the run (0 … {len(definition.lanes()) - 1})")
    recorded = (run.environment or [{}])[-1].get("matmul_precision", numerics.DEFAULT_MATMUL_PRECISION)
    trainer = trainers.trainer_of(definition.train_config(recorded))
    hparams = jax.tree.map(lambda x: x[lane], definition.hyperparams())
    template = jax.eval_shape(trainer.init, definition.lane_keys()[lane], hparams).learner
    # What params.npz leaves out (optimisers, targets) acting does not read: zeros stand in.
    learner = jax.tree_util.tree_map_with_path(
        lambda path, like: params[_name(path)][lane] if _name(path) in params else np.zeros(like.shape, like.dtype),
        template,
    )
    return jax.jit(lambda obs: trainer.act(learner, obs, hparams))
