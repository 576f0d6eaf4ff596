"""Fitting a sweep onto an accelerator's memory: the widest block of lanes per call whose
memory, estimated before anything is placed on the device, stays within the device's limit.

A run keeps every lane's state on the device for its whole length and runs up to
``calls_at_once`` calls of the chunk program at a time, each needing its temporaries and
the outputs not aliased to its donated state. So on each device of a call's mesh
(``devices_per_call(width)`` of them, the lane axis split evenly)::

    bytes(width) = lanes × state bytes per lane / devices + calls at once × program bytes per device

where the program's bytes come from the compiled program's own memory analysis. A width
that does not fit is never run; if not even one lane per call fits, the run stops before
it starts, in one line naming ``--lanes_per_call``.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax

from jaxmadrl.core.limits import SettingError
from jaxmadrl.study import grid

HEADROOM = 0.9  # of the device's limit: the allocator's fragmentation and XLA's own buffers


@dataclasses.dataclass(frozen=True)
class MemoryFit:
    """The chosen width and what it was chosen on (bytes per device), as recorded with the run."""

    lanes_per_call: int
    device_limit: int
    state_bytes: int  # every lane's state on one device
    program_bytes: int  # one call's temporaries and outputs on one device
    calls_at_once: int

    @property
    def total(self) -> int:
        return self.state_bytes + self.calls_at_once * self.program_bytes

    def describe(self, n_lanes: int) -> str:
        gib = lambda n: f"{n / 2**30:.2f} GiB"
        return (
            f"{self.lanes_per_call} of {n_lanes} lanes per call fit the device's {gib(self.device_limit)}: "
            f"states {gib(self.state_bytes)} + {self.calls_at_once} call(s) × {gib(self.program_bytes)}"
        )


def device_memory_limit(device: jax.Device) -> int | None:
    """The bytes the device's allocator may hold, or None where the backend does not say (the CPU)."""
    stats = device.memory_stats()
    return int(stats["bytes_limit"]) if stats and "bytes_limit" in stats else None


def fits_to_memory() -> bool:
    """Whether a run's default width is fitted to the device's memory: off the CPU (where one
    lane per call is the default), on a device that reports its limit."""
    return jax.default_backend() != "cpu" and device_memory_limit(jax.devices()[0]) is not None


def program_bytes(compiled) -> int:
    """A compiled call's own memory on one device: its temporaries and the outputs that are
    not written over its (donated) inputs; its inputs are the resident states, counted apart."""
    analysis = compiled.memory_analysis()
    return int(analysis.temp_size_in_bytes + analysis.output_size_in_bytes - analysis.alias_size_in_bytes)


def widest_fit(
    widths: list[int],
    n_lanes: int,
    state_bytes_per_lane: int,
    device_limit: int,
    program_bytes_of: Callable[[int], int],
    devices_per_call: Callable[[int], int],
    calls_at_once: Callable[[int], int],
) -> MemoryFit:
    """The first of ``widths`` (widest first) whose estimate fits ``HEADROOM`` of
    ``device_limit``. ``program_bytes_of(width)`` compiles, width after width: a program's
    temporaries are not linear in its lanes (measured: a call of 2 lanes can need less than
    half of one of 4), so no width is ruled out by extrapolation, only where the states alone
    exceed the budget. SettingError naming lanes_per_call if none fits."""
    budget = int(device_limit * HEADROOM)
    estimate = None
    for width in widths:
        state = n_lanes * state_bytes_per_lane // devices_per_call(width)
        if state > budget:
            continue
        estimate = MemoryFit(width, device_limit, state, program_bytes_of(width), calls_at_once(width))
        if estimate.total <= budget:
            return estimate
    needed = f"{estimate.lanes_per_call} lane(s) per call need {estimate.total / 2**30:.2f} GiB, " if estimate else ""
    raise SettingError(
        "lanes_per_call",
        f"no width of {widths} fits {HEADROOM:.0%} of the device's {device_limit / 2**30:.2f} GiB ({needed}"
        f"the {n_lanes} lanes' states {n_lanes * state_bytes_per_lane / 2**30:.2f} GiB); give a smaller "
        "--lanes_per_call, or run fewer lanes per process (--shard i/n)",
    )


def fit_lanes(program, keys, hparams, clocks, lanes_per_call: int | None, max_devices: int | None, workers):
    """(MemoryFit, the compiled chunk program of its width) for these lanes (keys (G,),
    hparams (G, ...), one chunk's clocks): the widest width that fits if ``lanes_per_call``
    is None, else that width if it fits (SettingError naming lanes_per_call otherwise).
    None where the device does not report its memory limit. Nothing is placed on a device:
    the programs are compiled for the states' shapes."""
    limit = device_memory_limit(jax.devices()[0])
    if limit is None:
        return None
    n_lanes = keys.shape[0]
    one_lane = jax.eval_shape(program.init, keys[:1], jax.tree.map(lambda x: x[:1], hparams))
    compiled = {}

    def abstract(tree, width: int, sharding):
        return jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(
                (width, *x.shape[1:]), x.dtype, sharding=sharding, weak_type=getattr(x, "weak_type", False)
            ),
            tree,
        )

    def program_bytes_of(width: int) -> int:
        sharding = grid.lane_sharding(width, max_devices)
        lowered = jax.jit(program.run_chunk, donate_argnums=0).lower(
            abstract(one_lane, width, sharding), clocks, abstract(hparams, width, sharding)
        )
        compiled[width] = lowered.compile()
        return program_bytes(compiled[width])

    widths = [w for w in range(n_lanes, 0, -1) if n_lanes % w == 0] if lanes_per_call is None else [lanes_per_call]
    fit = widest_fit(
        widths,
        n_lanes,
        sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree.leaves(one_lane)),
        limit,
        program_bytes_of,
        lambda width: grid.lane_sharding(width, max_devices).mesh.size,
        lambda width: min(workers or grid.default_workers(n_lanes // width), n_lanes // width),
    )
    return fit, compiled[fit.lanes_per_call]
