"""How a run computes, as opposed to what it computes (its definition): the lane width, the
devices and host workers, the matmul precision, GPU determinism and whether the final
state is kept. Each setting is a field documented once (its help); the commands' flags are
these fields. Lane width, devices per call, precision and GPU determinism change how lanes
round, so a resume keeps what the run recorded unless told otherwise."""

from __future__ import annotations

import dataclasses

from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.core import numerics, xla_flags
from jaxmadrl.core.limits import SettingError, check_integer
from jaxmadrl.study import grid, lane_axis, memory_fit


def _setting(help: str, default=None, choices: tuple[str, ...] | None = None):
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


@dataclasses.dataclass(frozen=True)
class Execution:
    """Execution settings; None: the run's recorded value on a resume, else the default."""

    lanes_per_call: int | None = _setting(
        "lanes per call of the compiled chunk program; must divide the lanes. Default: 1 on the CPU "
        "(fastest there); on other backends all lanes, or the widest block whose memory (estimated before "
        "anything is placed on the device) fits the device's; a resume keeps the run's"
    )
    devices: int | None = _setting("use at most this many devices for the lane axis (default: all)")
    workers: int | None = _setting("calls run at once on host threads (default: min(calls, CPU count))")
    matmul_precision: str | None = _setting(
        f"{TrainConfig.__dataclass_fields__['matmul_precision'].metadata['help']}. Default: "
        f"{numerics.DEFAULT_MATMUL_PRECISION}; a resume keeps the run's setting. Recorded with the run",
        choices=numerics.MATMUL_PRECISIONS,
    )
    deterministic_ops: bool | None = _setting(
        "deterministic GPU reductions and scatters (--xla_gpu_deterministic_ops); XLA:CPU is deterministic "
        "either way. Default: on, unless XLA_FLAGS sets it; a resume keeps the run's setting. Recorded with the run"
    )
    keep_checkpoint: bool = _setting(
        "keep the final state (weights, optimisers, replay; about as large as a checkpoint) in RUN/checkpoint/ "
        "when the run completes; by default it is deleted",
        default=False,
    )
    log: tuple[str, ...] | None = _setting(
        "live logs written after every chunk, in RUN/logs/: any of csv, tensorboard, wandb, comma-separated "
        "(tensorboard and wandb: pip install 'jaxmadrl[log]'); they never change what the run computes. "
        "Default: none; a resume keeps the logs the run has"
    )


NAMES = tuple(field.name for field in dataclasses.fields(Execution))
# The settings that change how lanes round, and the field of the environment record that
# holds each: left at None, a resume takes the recorded value.
RECORDED = {"lanes_per_call": "lanes_per_call", "devices": "devices_per_call", "matmul_precision": "matmul_precision"}
RECORDED_DETERMINISM = "deterministic_gpu_ops"


def request_determinism(given: bool | None, recorded: dict) -> None:
    """Asks for the given GPU determinism, else the recorded one; before anything starts a
    backend (e.g. the default lane width, which depends on it)."""
    chosen = given if given is not None else recorded.get(RECORDED_DETERMINISM)
    if chosen is not None:
        try:
            xla_flags.request_deterministic_gpu_ops(chosen)
        except RuntimeError as error:
            raise SettingError("deterministic_ops", f"cannot be changed now: {error}") from None


def resolved(given: Execution, recorded: dict, n_lanes: int) -> Execution:
    """The execution of a run of ``n_lanes`` lanes: each given value, else the recorded one
    (the recorded devices per call only with the recorded lanes per call), else the
    default (lanes per call and precision; devices and workers stay None: all, one per CPU).
    Lanes per call stays None where the default is to be fitted to the device's memory
    (``memory_fit``: a backend other than the CPU that reports its memory limit)."""
    if given.lanes_per_call not in (None, recorded.get("lanes_per_call")):
        recorded = {k: v for k, v in recorded.items() if k != "devices_per_call"}  # it was for the old width
    chosen = {
        name: recorded.get(field) if getattr(given, name) is None else getattr(given, name)
        for name, field in RECORDED.items()
    }
    chosen["workers"] = given.workers
    for name in ("lanes_per_call", "devices", "workers"):
        if chosen[name] is not None:
            chosen[name] = check_integer(name, chosen[name])
    chosen["matmul_precision"] = numerics.check_matmul_precision(
        chosen["matmul_precision"] or numerics.DEFAULT_MATMUL_PRECISION
    )
    if chosen["lanes_per_call"] is None and not memory_fit.fits_to_memory():
        chosen["lanes_per_call"] = grid.default_lanes_per_call(n_lanes)
    if chosen["lanes_per_call"] is not None:
        lane_axis.check_lanes_per_call(n_lanes, chosen["lanes_per_call"])
    return dataclasses.replace(given, **chosen)
