"""Checkpoints of lane-batched states.

A checkpoint is a directory: one file per block of lanes per episode count, written as
soon as the block's chunk is done, and an index naming the complete set. The index is
replaced only when every block of a chunk is written, and the files it no longer block_names
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
from jaxmadrl.store import names


def save_block(directory: pathlib.Path, first_lane: int, state, episodes_done: int) -> str:
    """Writes one block's state (keys as raw data) atomically; returns the file's digest."""
    leaves = jax.tree.leaves(jax.device_get(jax.tree.map(lambda x: jax.random.key_data(x) if is_key(x) else x, state)))
    arrays = {f"leaf_{i:04d}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    path = directory / names.block_file(first_lane, episodes_done)
    files.write_atomically(path, lambda file: np.savez(file, **arrays))
    return files.digest(path)


def commit_checkpoint(
    directory: pathlib.Path, blocks: dict[int, str], episodes_done: int, definition: str, chunks: dict[str, str]
) -> None:
    """Makes the saved blocks the checkpoint, then removes every other file in
    ``directory``. ``blocks``: each block's first lane → its file's digest; ``definition``:
    the digest of the run's definition; ``chunks``: every metrics chunk file of the run so
    far → its digest. The index records all of it, so that a resume can verify it."""
    records = [
        {"file": names.block_file(first, episodes_done), "first_lane": first, "sha256": blocks[first]}
        for first in sorted(blocks)
    ]
    index = {"episodes_done": episodes_done, "definition": definition, "blocks": records, "chunks": chunks}
    files.write_atomically(directory / names.CHECKPOINT_INDEX, lambda f: f.write(files.json_text(index).encode()))
    kept = {record["file"] for record in records} | {names.CHECKPOINT_INDEX}
    for stale in set(p.name for p in directory.iterdir()) - kept:
        (directory / stale).unlink()


def state_bytes(states: list) -> int:
    """Bytes of lane-block states as a checkpoint stores them (keys as raw data)."""
    return sum(
        int(np.prod(leaf.shape)) * leaf.dtype.itemsize
        for leaf in jax.tree.leaves(jax.tree.map(lambda x: jax.random.key_data(x) if is_key(x) else x, states))
    )


def read_index(directory: pathlib.Path, definition: str) -> dict:
    """The checkpoint's index, verified: it is this run's (``definition``: the digest of its
    definition) and consistent with itself. ValueError naming the file otherwise."""
    index_path = directory / names.CHECKPOINT_INDEX
    try:
        index = json.loads(index_path.read_text())
        done, records, chunks = int(index["episodes_done"]), list(index["blocks"]), dict(index["chunks"])
        recorded_definition = index["definition"]
        blocks = [(str(r["file"]), int(r["first_lane"]), str(r["sha256"])) for r in records]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{index_path} is not a checkpoint index of this version: {error!r}") from None
    if recorded_definition != definition:
        raise ValueError(f"{index_path} was computed for another definition than the run's {names.DEFINITION}")
    for file, first_lane, _ in blocks:
        if file != names.block_file(first_lane, done):
            raise ValueError(f"{index_path} names {file}, which is not a block after {done} episodes")
    return {"episodes_done": done, "blocks": blocks, "chunks": chunks}


def load_checkpoint(directory: pathlib.Path, template, definition: str):
    """Restores a state with the structure, shapes and dtypes of ``template`` (leading lane
    axis; e.g. from ``jax.eval_shape``) from the checkpoint of the run whose definition has
    the digest ``definition``. Returns (state as NumPy/key arrays, episodes done, the
    digests of the metrics chunks it recorded). ValueError, naming the file, if the
    checkpoint is missing, damaged, altered, or not this run's."""
    index = read_index(directory, definition)
    template_leaves, treedef = jax.tree.flatten(template)
    blocks = []
    for name, _, sha256 in index["blocks"]:
        try:
            if files.digest(directory / name) != sha256:
                raise ValueError("its contents differ from what the index recorded")
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
    return jax.tree.unflatten(treedef, leaves), index["episodes_done"], index["chunks"]
