"""This session's lanes as blocks of one compiled chunk program: the program, the width of
a block (checked against, or fitted to, the device's memory: ``study.memory_fit``), where
each block goes and its hyperparameters, and the chunk program compiled for a block."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxmadrl.agents.scaffold import EpisodeClock, episode_clock
from jaxmadrl.store import execution
from jaxmadrl.study import grid, lane_axis, memory_fit
from jaxmadrl.study.definition import SweepDefinition


@dataclasses.dataclass(frozen=True)
class Blocks:
    """This session's lanes as blocks of ``lanes_per_call`` lanes of one compiled program:
    the program, where a block goes (``sharding``), each block's first lane and
    hyperparameters; on a device that reports its memory, the width's ``memory_fit`` and
    the chunk program compiled for it."""

    program: grid.Grid
    sharding: jax.sharding.NamedSharding
    lanes_per_call: int
    first_lanes: list[int]
    hparams: list
    memory: memory_fit.MemoryFit | None = None
    compiled_chunk: object = None

    def place(self, tree) -> list:
        """A tree with a leading lane axis as this session's blocks, on their devices."""
        return [jax.device_put(block, self.sharding) for block in lane_axis.split_lanes(tree, self.lanes_per_call)]


def prepare(definition: SweepDefinition, config, share: range, chosen: execution.Execution) -> Blocks:
    """The blocks of the lanes ``share``; their width is ``chosen``'s, checked against the
    device's memory, or where it is None the widest that fits (``memory_fit``)."""
    program, hparams = grid.make_grid(config), lanes_of(definition.hyperparams(), share)
    keys = definition.lane_keys()[share.start : share.stop]
    first_clocks = clocks(definition, 0, definition.chunk)
    fitted = memory_fit.fit_lanes(
        program, keys, hparams, first_clocks, chosen.lanes_per_call, chosen.devices, chosen.workers
    )
    memory, compiled = fitted if fitted else (None, None)
    lanes_per_call = memory.lanes_per_call if memory else chosen.lanes_per_call
    sharding = grid.lane_sharding(lanes_per_call, chosen.devices)
    first_lanes = list(range(share.start, share.stop, lanes_per_call))
    blocks = Blocks(program, sharding, lanes_per_call, first_lanes, [], memory, compiled)
    return dataclasses.replace(blocks, hparams=blocks.place(hparams))


def lanes_of(tree, share: range):
    """The lanes ``share`` of a tree with a leading lane axis."""
    return jax.tree.map(lambda x: x[share.start : share.stop], tree)


def clocks(definition, first: int, chunk: int) -> EpisodeClock:
    """The clocks (chunk,) of the episodes first … first + chunk − 1 (those past the run's end are padding)."""
    return episode_clock(definition.train, jnp.arange(first, first + chunk))


def compile_chunk(blocks: Blocks, state, chunk_clocks: EpisodeClock):
    """The chunk program for one block (its state donated) over chunks shaped as ``chunk_clocks``.
    The run's length and schedule are its inputs, so runs that differ only in them share it."""
    return jax.jit(blocks.program.run_chunk, donate_argnums=0).lower(state, chunk_clocks, blocks.hparams[0]).compile()
