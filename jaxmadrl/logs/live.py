"""Live logs of a running sweep (``--log=csv,tensorboard,wandb``, any subset).

After every chunk of episodes the run hands each logger the chunk's metrics, on the host,
once the chunk's checkpoint is committed: the compiled program and its results are the same
with logs or without. A logger that fails (a full disk, W&B unreachable) is one warning line
on stderr and is dropped; the run goes on. On a resume each logger is brought up to the
checkpoint from the run's per-chunk metrics files, so its log holds every episode once.

Every logger sees the same series: one per lane and scalar *tag*, a metric's name for a
scalar metric and ``name/index`` per component for one with a per-agent, per-layer,
per-critic or per-head axis (``tag_series``); steps are 1-based episode numbers; NaN
values (an episode without an update or an evaluation) are not logged.
"""

from __future__ import annotations

import dataclasses
import importlib
import pathlib
import sys
from typing import Callable, Iterator, Protocol

import numpy as np

from jaxmadrl.core.limits import SettingError
from jaxmadrl.study.definition import Lane, SweepDefinition

# Each log by name, and what it writes in the run's logs/ (a resume finds it there).
WRITES = {"csv": "metrics.csv", "tensorboard": "tensorboard", "wandb": "wandb.json"}
KINDS = tuple(WRITES)

# (first episode, {metric: (episodes, lanes, *shape)}) of each recorded chunk, in order.
Chunks = Callable[[], Iterator[tuple[int, dict[str, np.ndarray]]]]


@dataclasses.dataclass(frozen=True)
class LogPlace:
    """Where and what a run logs: ``folder`` (the run's, or its shard's, ``logs/``), its
    ``definition``, the lanes it runs (``first_lane`` … as numbered in the whole sweep),
    ``title`` (the run folder's name, and the shard "i/n" if it is one) and ``recorded``,
    the chunks of the episodes done so far (none for a new run; a resume's up to its
    checkpoint)."""

    folder: pathlib.Path
    definition: SweepDefinition
    first_lane: int
    lanes: tuple[Lane, ...]
    title: str
    recorded: Chunks

    def lane_names(self) -> list[str]:
        """One name per lane, sortable and readable: ``lane03-seed1-baseline-a0.1-c0.01``."""
        return [
            f"lane{self.first_lane + i:02d}-seed{lane.seed}-{lane.variant}-a{lane.actor_lr:g}-c{lane.critic_lr:g}"
            for i, lane in enumerate(self.lanes)
        ]

    def lane_hparams(self) -> list[dict]:
        """Each lane's settings: seed, variant, learning rates and the variant's own values."""
        definition = self.definition
        return [
            {
                **lane._asdict(),
                **{k: _plain(v) for k, v in {**definition.mitigations, **definition.variants[lane.variant]}.items()},
            }
            for lane in self.lanes
        ]


def _plain(value):
    return value if isinstance(value, (bool, int, float, str)) else str(value)


class Logger(Protocol):
    def write(self, first_episode: int, metrics: dict[str, np.ndarray]) -> None:
        """The metrics of a chunk: each (episodes, lanes, *shape); episode numbers from first_episode + 1."""

    def close(self) -> None: ...


def tag_series(metrics: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every scalar series of a chunk: tag → float64 (episodes, lanes); components of a
    metric with a last axis become ``name/index``."""
    series = {}
    for name in sorted(metrics):
        values = np.asarray(metrics[name], np.float64)
        if values.ndim == 2:
            series[name] = values
        else:
            for index in range(values.shape[-1]):
                series[f"{name}/{index}"] = values[..., index]
    return series


class LiveLogs:
    """The loggers of one run session; each call to one that raises is one warning line, and
    that logger is dropped."""

    def __init__(self, loggers: dict[str, Logger]):
        self._loggers = dict(loggers)

    def write(self, first_episode: int, metrics: dict[str, np.ndarray]) -> None:
        for kind in list(self._loggers):
            self._call(kind, lambda logger: logger.write(first_episode, metrics))

    def close(self) -> None:
        for kind in list(self._loggers):
            self._call(kind, lambda logger: logger.close())
        self._loggers.clear()

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self._loggers)

    def _call(self, kind: str, call: Callable) -> None:
        try:
            call(self._loggers[kind])
        except Exception as error:  # a log is never worth a run
            del self._loggers[kind]
            warn(kind, "stopped", error)


def warn(kind: str, what: str, error: Exception) -> None:
    """The one line a failing logger costs: on stderr, naming the log and the error."""
    print(f"warning: the {kind} log {what} ({type(error).__name__}: {error}); the run goes on", file=sys.stderr)


def checked_kinds(kinds) -> tuple[str, ...]:
    """The logger kinds asked for (a sequence of names, or one comma-separated string),
    without repeats; SettingError naming an unknown one or a missing package."""
    if isinstance(kinds, str):
        kinds = [k for k in kinds.split(",") if k]
    kinds = tuple(dict.fromkeys(str(k).strip() for k in kinds or ()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise SettingError("log", f"names unknown logs {unknown}; choose from {', '.join(KINDS)}")
    for kind, package in (("tensorboard", "tensorboard"), ("wandb", "wandb")):
        if kind in kinds:
            _require(package)
    return kinds


def kinds_found(folder: pathlib.Path) -> tuple[str, ...]:
    """The logs an earlier session of a run wrote in its ``logs/`` ``folder`` (a resume keeps them)."""
    return tuple(kind for kind, written in WRITES.items() if (folder / written).exists())


def _require(package: str) -> None:
    try:
        __import__(package)
    except ModuleNotFoundError:
        raise SettingError("log", f"{package} needs the {package} package: pip install 'jaxmadrl[log]'") from None
    except Exception as error:
        raise SettingError("log", f"{package}: the {package} package failed to import: {error}") from None


def open_live_logs(kinds: tuple[str, ...], place: LogPlace) -> LiveLogs:
    """The loggers ``kinds`` (checked) of one session of a run, each brought up to date with
    ``place.recorded``; one that cannot start is a warning line, as if it failed. Only the
    packages of the logs asked for are imported (TensorBoard's and W&B's take a second)."""
    openers = {
        "csv": "csv_rows.CsvLog",
        "tensorboard": "tensorboard_events.TensorBoardLog",
        "wandb": "wandb_run.WandbLog",
    }
    loggers = {}
    for kind in kinds:
        try:
            module, opener = openers[kind].split(".")
            place.folder.mkdir(exist_ok=True)
            loggers[kind] = getattr(importlib.import_module(f"jaxmadrl.logs.{module}"), opener)(place)
        except Exception as error:
            warn(kind, "did not start", error)
    return LiveLogs(loggers)
