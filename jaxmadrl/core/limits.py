"""The error that names a bad setting, and the bounds of the integer settings.

A setting has one name everywhere: the dataclass field, the sweep-file key and, as
``--name``, the command-line flag. ``SettingError`` carries that name apart from the
problem, so each front end can say it the way its user wrote it.
"""

from __future__ import annotations

import numbers

import numpy as np

# Largest accepted values. Episode and step counters are int32, and long before that a run
# stops fitting a machine: 1e6 episodes of the 16-lane grid take about two days on 2 CPU
# cores, and every lane keeps its metrics for every episode.
MAXIMUM = {
    "episodes": 1_000_000,
    "steps_per_episode": 10_000,
    "n_agents": 10_000,
    "seeds": 100_000,
    "chunk": 1_000_000,
    "batch_size": 100_000,
    "replay_capacity": 10_000_000,
    "eval_every": 1_000_000,
    "eval_episodes": 1_000,
    "episodes_before_train": 1_000_000,
    "n_channels": 10_000,
    "n_units": 10_000,
    "layer width": 65_536,
    "first_seed": 2**32 - 1,
    "lanes_per_call": 10_000_000,
    "devices": 100_000,
    "workers": 10_000,
    "shards": 100_000,
}


class SettingError(ValueError):
    """A bad value of one named setting: ``str(error)`` is "<setting> <problem>"."""

    def __init__(self, setting: str, problem: str):
        super().__init__(f"{setting} {problem}")
        self.setting, self.problem = setting, problem


def is_integer(value) -> bool:
    """An integer, Python's or NumPy's (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_number(value) -> bool:
    """A real number, Python's or NumPy's (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_integer(setting: str, value, minimum: int = 1) -> int:
    """``value`` if it is an integer in [minimum, MAXIMUM[setting]], else SettingError."""
    maximum = MAXIMUM[setting]
    if not is_integer(value) or not minimum <= value <= maximum:
        raise SettingError(setting, f"must be an integer in [{minimum}, {maximum}], got {value!r}")
    return int(value)


def check_widths(setting: str, widths) -> tuple[int, ...]:
    """Hidden-layer widths: a non-empty sequence of integers in [1, MAXIMUM['layer width']]."""
    limit = MAXIMUM["layer width"]
    if (
        not isinstance(widths, (list, tuple))
        or not widths
        or not all(is_integer(w) and 1 <= w <= limit for w in widths)
    ):
        raise SettingError(setting, f"must be a non-empty list of integers in [1, {limit}], got {widths!r}")
    return tuple(widths)
