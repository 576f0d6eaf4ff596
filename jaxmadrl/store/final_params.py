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

import jax
import numpy as np

from jaxmadrl.core import files
from jaxmadrl.store import names
from jaxmadrl.study import lane_axis

# A path holding one of these is an optimiser's state or a target network's copy.
LEFT_OUT = ("opt_state", "_target")


def name_of(path) -> str:
    """The name of an array in ``params.npz``: its key path in the learner state."""
    return jax.tree_util.keystr(path, simple=True, separator="/")


def final_params(states: list) -> dict[str, np.ndarray]:
    """The named arrays of the learner states of blocks of lanes, joined over the lanes."""
    learner = lane_axis.join_lanes([state.learner for state in states])
    named = {name_of(path): np.asarray(leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(learner)[0]}
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
