"""Checkpoints of lane blocks: any split of the lanes restores the whole state, and a
checkpoint is verified, not trusted: an altered block, index or definition is refused."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmadrl.core.keys import is_key
from jaxmadrl.store import checkpoints, names
from jaxmadrl.study import lane_axis

DEFINITION = "digest-of-the-run's-definition"


@pytest.fixture
def states():
    """A lane-batched state of 8 lanes with a key array among its leaves."""
    return {
        "weights": jnp.arange(8 * 3, dtype=jnp.float32).reshape(8, 3),
        "key": jax.random.split(jax.random.key(0), 8),
        "count": jnp.arange(8, dtype=jnp.int32),
    }


def as_arrays(tree):
    return jax.tree.map(lambda x: np.asarray(jax.random.key_data(x) if is_key(x) else x), tree)


def commit(directory, states, lanes_per_call, episodes_done, chunks=None):
    first_lanes = range(0, 8, lanes_per_call)
    saved = {
        first: checkpoints.save_block(directory, first, block, episodes_done)
        for first, block in zip(first_lanes, lane_axis.split_lanes(states, lanes_per_call))
    }
    checkpoints.commit_checkpoint(directory, saved, episodes_done, DEFINITION, chunks or {})
    return saved


def test_blocks_of_any_width_restore_the_whole_state(tmp_path, states):
    template = jax.eval_shape(lambda: states)
    for episodes_done, lanes_per_call in ((3, 4), (6, 2)):
        checkpoints.save_block(tmp_path, 0, lane_axis.split_lanes(states, lanes_per_call)[0], 1)  # stale
        commit(tmp_path, states, lanes_per_call, episodes_done, {"chunk_000000.npz": "abc"})
        # the index and exactly the committed blocks remain
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [names.CHECKPOINT_INDEX] + [names.block_file(first, episodes_done) for first in range(0, 8, lanes_per_call)]
        )
        # a later chunk killed half-way: one block written, no commit
        checkpoints.save_block(tmp_path, 0, jax.tree.map(lambda x: x[:lanes_per_call], states), episodes_done + 3)
        restored, done, chunks = checkpoints.load_checkpoint(tmp_path, template, DEFINITION)
        assert done == episodes_done and chunks == {"chunk_000000.npz": "abc"}
        jax.tree.map(np.testing.assert_array_equal, as_arrays(restored), as_arrays(states))
    wrong_width = jax.eval_shape(lambda: jax.tree.map(lambda x: x[:4], states))
    with pytest.raises(ValueError, match="this sweep needs"):
        checkpoints.load_checkpoint(tmp_path, wrong_width, DEFINITION)


def test_a_block_with_other_contents_of_the_same_shapes_is_refused(tmp_path, states):
    """E.g. a block of another run: a valid file, the right shapes, wrong numbers."""
    commit(tmp_path, states, 4, 5)
    other = jax.tree.map(lambda x: x, states)
    other["weights"] = other["weights"] + 1
    checkpoints.save_block(tmp_path, 4, lane_axis.split_lanes(other, 4)[1], 5)  # over the committed block
    with pytest.raises(ValueError, match="lanes00004-episode000005.npz is damaged or not this sweep's: its contents"):
        checkpoints.load_checkpoint(tmp_path, jax.eval_shape(lambda: states), DEFINITION)


def test_an_edited_episode_count_is_refused(tmp_path, states):
    commit(tmp_path, states, 8, 5)
    index = json.loads((tmp_path / names.CHECKPOINT_INDEX).read_text())
    (tmp_path / names.CHECKPOINT_INDEX).write_text(json.dumps({**index, "episodes_done": 4}))
    with pytest.raises(ValueError, match="which is not a block after 4 episodes"):
        checkpoints.load_checkpoint(tmp_path, jax.eval_shape(lambda: states), DEFINITION)


def test_a_checkpoint_of_another_definition_is_refused(tmp_path, states):
    commit(tmp_path, states, 8, 5)
    with pytest.raises(ValueError, match="was computed for another definition"):
        checkpoints.load_checkpoint(tmp_path, jax.eval_shape(lambda: states), "another definition's digest")


def test_an_index_of_an_earlier_version_is_refused(tmp_path, states):
    commit(tmp_path, states, 8, 5)
    (tmp_path / names.CHECKPOINT_INDEX).write_text(json.dumps({"episodes_done": 5, "blocks": [names.block_file(0, 5)]}))
    with pytest.raises(ValueError, match="is not a checkpoint index of this version"):
        checkpoints.load_checkpoint(tmp_path, jax.eval_shape(lambda: states), DEFINITION)
