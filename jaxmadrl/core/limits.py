"""The error that names a bad setting, the bounds of the integer settings and the ranges
of the real-valued ones.

A setting has one name everywhere: the dataclass field, the sweep-file key and, as
``--name``, the command-line flag. ``SettingError`` carries that name apart from the
problem, so each front end can say it the way its user wrote it.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

# Largest accepted values. Episode and step counters are int32, and long before that a run
# stops fitting a machine: 1e6 episodes of the 16-lane grid take about two days on 2 CPU
# cores, and every lane keeps its metrics for every episode.
MAXIMUM = {
    "episodes": 1_000_000,
    "steps_per_episode": 10_000,
    "episode_length": 100_000,
    "n_agents": 10_000,
    "seeds": 100_000,
    "chunk": 1_000_000,
    "batch_size": 100_000,
    "replay_capacity": 10_000_000,
    "eval_every": 1_000_000,
    "eval_episodes": 1_000,
    "episodes_before_train": 1_000_000,
    "rollout_envs": 100_000,
    "update_epochs": 10_000,
    "minibatches": 1_000_000,
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


# The ranges of real-valued settings, by the name a field gives in its metadata ("range"):
# (requirement as said to the user, test of a float64 value). Every range excludes NaN.
RANGES = {
    "finite": ("finite", math.isfinite),
    "positive": ("finite and > 0", lambda v: math.isfinite(v) and v > 0),
    "non-negative": ("finite and >= 0", lambda v: math.isfinite(v) and v >= 0),
    "unit": ("in [0, 1]", lambda v: 0 <= v <= 1),
    "fraction": ("in (0, 1]", lambda v: 0 < v <= 1),
    "positive or inf": ("> 0 (inf = no clipping)", lambda v: v > 0),
}
FLOAT32 = np.finfo(np.float32)
# How a sweep file writes the values JSON has no number for; ``from_dict`` reads them back.
NON_FINITE_TEXT = {math.inf: "inf", -math.inf: "-inf"}


def check_real(setting: str, value, range_name: str) -> float:
    """``value`` as a float if it is a real number in the range ``RANGES[range_name]`` in
    float32 as well, the precision the program computes in: a finite value that would be
    infinite there, or a non-zero one below float32's smallest normal number (which
    computes as 0), is refused. SettingError naming ``setting`` otherwise."""
    requirement, holds = RANGES[range_name]
    if not is_number(value):
        raise SettingError(setting, f"must be a number ({requirement}), got {value!r}")
    value = float(value)
    if not holds(value):
        raise SettingError(setting, f"must be {requirement}, got {value!r}")
    with np.errstate(over="ignore"):
        as_float32 = np.float32(value)
    if math.isfinite(value) and np.isinf(as_float32):
        raise SettingError(setting, f"must be at most {float(FLOAT32.max):.4g} in magnitude (float32), got {value!r}")
    if value != 0 and abs(value) < FLOAT32.smallest_normal:
        raise SettingError(
            setting,
            f"is {value!r}, below float32's smallest normal number ({float(FLOAT32.smallest_normal):.4g}), "
            "where the program's arithmetic is not exact or gives 0",
        )
    return value


def check_reals(instance, holder_name: str = "") -> None:
    """``check_real`` of every field of the dataclass ``instance`` whose metadata names a
    range (each element, for an array of lanes), and ``min_X`` <= ``max_X`` for each such
    pair of fields."""
    fields = {f.name: f for f in dataclasses.fields(instance)}
    for name, field in fields.items():
        if field.metadata.get("range"):
            values = np.ravel(np.asarray(getattr(instance, name), dtype=object)).tolist()
            for value in values:
                check_real(holder_name + name, value, field.metadata["range"])
    for name in fields:
        counterpart = "max_" + name.removeprefix("min_")
        if name.startswith("min_") and counterpart in fields:
            low, high = getattr(instance, name), getattr(instance, counterpart)
            if low > high:
                raise SettingError(name, f"({low!r}) must not exceed {counterpart} ({high!r})")


def decoded_real(value):
    """A number as a sweep file may write it: "inf" and "-inf" (JSON has no such numbers)
    as floats; anything else as it is."""
    decoded = {text: number for number, text in NON_FINITE_TEXT.items()}
    return decoded.get(value, value) if isinstance(value, str) else value


def encoded_real(value):
    """The inverse of ``decoded_real``: infinite floats as their text."""
    return NON_FINITE_TEXT.get(value, value) if is_number(value) and math.isinf(value) else value
