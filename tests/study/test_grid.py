"""Lanes as one compiled program: lane i of a grid is a single run of lane i, same seeds
start alike, variants reach their lanes only, blocks of lanes on threads equal one call,
and a diverging lane stays alone."""

from concurrent.futures import ThreadPoolExecutor

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from programs import assert_programs_agree

from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.scaffold import episode_clock
from jaxmadrl.agents.trainers import make_train
from jaxmadrl.store import execution, lane_blocks
from jaxmadrl.study import grid, lane_axis
from jaxmadrl.study.definition import SweepDefinition

pytestmark = pytest.mark.program  # its fixture compiles a grid of 8 lanes

# The tiny sweep's settings (tests/cli_helpers.TINY_SWEEP), its chunk the whole run: the
# programs of 1 and 2 lanes here are those its runs compile, compiled once for the session.
TINY = dict(n_agents=3, steps_per_episode=3, episodes=4, chunk=4)


def placed(tree, lanes_per_call: int) -> list:
    """A tree with a leading lane axis as blocks of ``lanes_per_call`` lanes, placed as a run places them."""
    sharding = grid.lane_sharding(lanes_per_call)
    return [jax.device_put(block, sharding) for block in lane_axis.split_lanes(tree, lanes_per_call)]


def grid_run(definition):
    """The grid's programs over all its lanes, compiled as a run compiles them: the initial
    states onto the lanes' devices, the chunk program with its states donated (it is given a
    copy here, so that a test may run the same states again)."""
    program = grid.make_grid(definition.train_config())
    [hparams], [keys] = (
        placed(definition.hyperparams(), len(definition.lanes())),
        placed(definition.lane_keys(), len(definition.lanes())),
    )
    states = jax.jit(program.init, out_shardings=grid.lane_sharding(len(definition.lanes())))(keys, hparams)
    donating = jax.jit(program.run_chunk, donate_argnums=0)

    def run_chunk(states, clocks, hparams):
        return donating(copied(states), clocks, hparams)

    return run_chunk, states, hparams


def copied(states):
    """A copy of ``states`` in which each array keeps its sharding: on a single-device
    sharding instead, the PRNG keys lower differently and the chunk program is not a run's."""
    return jax.device_put(states, jax.tree.map(lambda x: x.sharding, states), may_alias=False)


VARIANTS = {"baseline": {}, "softsign-ln": {"output_activation": "softsign", "layer_norm": 1}}


@pytest.fixture(scope="module")
def two_seed_grid():
    """2 seeds × 2 variants × 2 actor LRs = 8 lanes."""
    definition = SweepDefinition.from_dict(
        dict(name="t", actor_lrs=(1e-3, 1e-1), critic_lrs=(1e-2,), seeds=2, variants=VARIANTS, **TINY)
    )
    run_chunk, states, hparams = grid_run(definition)
    episodes = episode_clock(definition.train, jnp.arange(definition.episodes))
    return definition, run_chunk, states, hparams, run_chunk(states, episodes, hparams)


def test_lane_equals_single_run(two_seed_grid):
    definition, _, _, _, (states, metrics) = two_seed_grid
    train = jax.jit(make_train(definition.train_config()))
    for lane in (1, 3, 4):  # seed 0 baseline actor LR 0.1; seed 0 softsign-ln 0.1; seed 1 baseline 1e-3
        seed, variant, actor_lr, critic_lr = definition.lanes()[lane]
        key = jax.random.fold_in(jax.random.key(0), seed)
        hparams = HyperParams(actor_lr=actor_lr, critic_lr=critic_lr, **definition.variants[variant]).as_arrays()
        single_state, single = train(key, hparams)
        # A vmapped lane and an unbatched run are different programs (tests/programs.py).
        assert_programs_agree({name: values[:, lane] for name, values in metrics.items()}, single)
        chex.assert_trees_all_equal_shapes(jax.tree.map(lambda x: x[lane], states), single_state)


def test_same_seed_lanes_share_their_start_and_seeds_differ(two_seed_grid):
    definition, _, states, _, (_, metrics) = two_seed_grid
    lanes = definition.lanes()
    assert [(lane.seed, lane.variant) for lane in lanes] == [
        (seed, variant) for seed in (0, 1) for variant in VARIANTS for _ in range(2)
    ]
    # The first episode precedes any training: same seed and variant → same rollout,
    # different seed → not. Every variant of a seed starts from the same weights.
    first = metrics["train_reward"][0]
    assert first[0] == first[1] and first[4] == first[5] and first[0] != first[4]
    kernel = states.learner.actor_params["params"]["fc1"]["kernel"]
    np.testing.assert_array_equal(kernel[0], kernel[3])
    assert not np.array_equal(kernel[0], kernel[4])


def test_variant_settings_reach_their_lanes_only(two_seed_grid):
    definition, *_ = two_seed_grid
    hparams = definition.hyperparams()
    np.testing.assert_array_equal(hparams.output_activation, [0, 0, 1, 1] * 2)
    np.testing.assert_array_equal(hparams.layer_norm, [0, 0, 1, 1] * 2)
    np.testing.assert_array_equal(hparams.actor_lr, np.float32([1e-3, 1e-1] * 4))
    assert hparams.output_activation.dtype == np.int32 and hparams.layer_norm.dtype == np.float32


def test_rerun_is_bit_identical(two_seed_grid):
    definition, run_chunk, states, hparams, (_, metrics) = two_seed_grid
    _, again = run_chunk(states, episode_clock(definition.train, jnp.arange(definition.episodes)), hparams)
    for name in metrics:
        np.testing.assert_array_equal(metrics[name], again[name], err_msg=name)


def key_data_as_arrays(tree):
    return jax.tree.map(lambda x: jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x, tree)


def test_lane_blocks_on_threads_match_one_call(two_seed_grid):
    definition, run_chunk, states, hparams, (whole_states, whole_metrics) = two_seed_grid
    episodes = episode_clock(definition.train, jnp.arange(definition.episodes))
    runs = {}
    for lanes_per_call, workers in ((1, 1), (1, 3), (2, 2)):
        with ThreadPoolExecutor(workers) as pool:
            blocks, metrics = grid.run_blocks(
                pool, run_chunk, placed(states, lanes_per_call), episodes, placed(hparams, lanes_per_call)
            )
        assert len(blocks) == len(definition.lanes()) // lanes_per_call
        runs[lanes_per_call, workers] = key_data_as_arrays((lane_axis.join_lanes(blocks), metrics))
    # Running blocks at once on threads changes nothing.
    jax.tree.map(np.testing.assert_array_equal, runs[1, 1], runs[1, 3])
    for joined, metrics in runs.values():
        # Programs of different lane widths round differently (tests/programs.py).
        assert_programs_agree(metrics, whole_metrics)
        chex.assert_trees_all_equal_shapes(joined, key_data_as_arrays(whole_states))


@pytest.mark.parametrize("lanes_per_call", [1, 2])
def test_its_blocks_are_the_programs_a_run_compiles(two_seed_grid, lanes_per_call):
    """The blocks above run the chunk programs that a run of these lanes compiles
    (store.lane_blocks), so that the session compiles each width once: one lowered text."""
    definition, _, states, hparams, _ = two_seed_grid
    program = grid.make_grid(definition.train_config())
    episodes = episode_clock(definition.train, jnp.arange(definition.episodes))
    here = jax.jit(program.run_chunk, donate_argnums=0).lower(
        copied(placed(states, lanes_per_call)[0]), episodes, placed(hparams, lanes_per_call)[0]
    )
    chosen = execution.Execution(lanes_per_call=lanes_per_call)
    blocks = lane_blocks.prepare(definition, definition.train_config(), range(len(definition.lanes())), chosen)
    first_state = jax.jit(blocks.program.init, out_shardings=blocks.sharding).eval_shape(
        blocks.place(definition.lane_keys())[0], blocks.hparams[0]
    )
    clocks = lane_blocks.clocks(definition, 0, definition.chunk)
    run = jax.jit(blocks.program.run_chunk, donate_argnums=0).lower(first_state, clocks, blocks.hparams[0])
    assert here.as_text() == run.as_text()


@pytest.mark.parametrize("lanes_per_call", [0, 3, 9])
def test_lanes_per_call_must_divide_the_lanes(two_seed_grid, lanes_per_call):
    _, _, states, _, _ = two_seed_grid
    with pytest.raises(ValueError, match="must divide the 8 lanes"):
        lane_axis.split_lanes(states, lanes_per_call)


def test_divergent_lane_is_isolated():
    sane = SweepDefinition.from_dict(dict(name="t", actor_lrs=(1e-3,), critic_lrs=(1e-3,), **TINY))
    mixed = SweepDefinition.from_dict(dict(name="t", actor_lrs=(1e-3,), critic_lrs=(1e-3, 1e6), **TINY))
    episodes = episode_clock(sane.train, jnp.arange(TINY["episodes"]))
    run_chunk, states, hparams = grid_run(mixed)
    _, mixed_metrics = run_chunk(states, episodes, hparams)
    run_chunk, states, hparams = grid_run(sane)
    _, sane_metrics = run_chunk(states, episodes, hparams)
    assert not np.all(np.isfinite(mixed_metrics["critic_loss"][1:, 1]))
    assert np.all(np.isfinite(mixed_metrics["critic_loss"][1:, 0]))
    # A 2-lane and a 1-lane program (tests/programs.py).
    assert_programs_agree({name: values[:, :1] for name, values in mixed_metrics.items()}, sane_metrics)
