"""Checkpoints of lane-batched states.

A checkpoint is a directory: one file per block of lanes per episode count, written as
soon as the block's chunk is done, and an index naming the complete set. The index is
replaced only when every block of a chunk is written, and the files it no longer names
are removed after it. Restoring joins the blocks, so a run may resume with other blocks.
"""

from __future__ import annotations

import json
import pathlib
import zipfile

import jax
import numpy as np

from jaxmadrl.core import files
from jaxmadrl.core.keys import is_key

CHECKPOINT_INDEX = "checkpoint.json"


def block_file_name(first_lane: int, episodes_done: int) -> str:
    return f"lanes{first_lane:05d}-episode{episodes_done:06d}.npz"


def save_block(directory: pathlib.Path, first_lane: int, state, episodes_done: int) -> None:
    """Writes one block's state (keys as raw data) atomically."""
    leaves = jax.tree.leaves(jax.device_get(jax.tree.map(lambda x: jax.random.key_data(x) if is_key(x) else x, state)))
    arrays = {f"leaf_{i:04d}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    files.write_atomically(
        directory / block_file_name(first_lane, episodes_done), lambda file: np.savez(file, **arrays)
    )


def commit_checkpoint(directory: pathlib.Path, first_lanes: list[int], episodes_done: int) -> None:
    """Makes the saved blocks starting at ``first_lanes`` the checkpoint, then removes every
    other file in ``directory``."""
    names = [block_file_name(first, episodes_done) for first in first_lanes]
    index = {"episodes_done": episodes_done, "blocks": names}
    files.write_atomically(directory / CHECKPOINT_INDEX, lambda f: f.write(files.json_text(index).encode()))
    for stale in set(p.name for p in directory.iterdir()) - set(names) - {CHECKPOINT_INDEX}:
        (directory / stale).unlink()


def state_bytes(states: list) -> int:
    """Bytes of lane-block states as a checkpoint stores them (keys as raw data)."""
    return sum(
        int(np.prod(leaf.shape)) * leaf.dtype.itemsize
        for leaf in jax.tree.leaves(jax.tree.map(lambda x: jax.random.key_data(x) if is_key(x) else x, states))
    )


def load_checkpoint(directory: pathlib.Path, template):
    """Restores a state with the structure, shapes and dtypes of ``template`` (leading lane
    axis; e.g. from ``jax.eval_shape``). Returns (state as NumPy/key arrays, episodes done).
    ValueError, naming the file, if the checkpoint is missing, damaged or does not fit."""
    index_path = directory / CHECKPOINT_INDEX
    try:
        index = json.loads(index_path.read_text())
        names, episodes_done = list(index["blocks"]), int(index["episodes_done"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{index_path} is not a checkpoint index: {error}") from None
    if any(not isinstance(name, str) or pathlib.Path(name).name != name for name in names):
        raise ValueError(f"{index_path} names files outside its directory")
    template_leaves, treedef = jax.tree.flatten(template)
    blocks = []
    for name in names:
        try:
            with np.load(directory / name, allow_pickle=False) as saved:
                if len(saved.files) != len(template_leaves):
                    raise ValueError(f"it holds {len(saved.files)} arrays, this sweep needs {len(template_leaves)}")
                blocks.append([saved[f"leaf_{i:04d}"] for i in range(len(template_leaves))])
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise ValueError(f"{directory / name} is damaged or not this sweep's: {error}") from None
    leaves = []
    for i, like in enumerate(template_leaves):
        array = np.concatenate([block[i] for block in blocks])
        restored = jax.random.wrap_key_data(array) if is_key(like) else array
        if restored.shape != like.shape or restored.dtype != like.dtype:
            raise ValueError(
                f"{directory}: array {i} is {restored.dtype}{restored.shape}, this sweep needs {like.dtype}{like.shape}"
            )
        leaves.append(restored)
    return jax.tree.unflatten(treedef, leaves), episodes_done
