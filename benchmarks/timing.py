"""Measuring and reporting, for the benchmark scripts.

Wall-clock timing that waits for a call's results (``seconds``), tasks timed in alternating
rounds after untimed warm-up rounds (``interleaved``) and the median of per-round ratios
(``median_ratio``); XLA's cost analysis of a compiled program (``xla_cost``); the peak RSS
of the process; the machine and software a run was measured on (``print_environment``); and
``Report``, which prints one labelled line per number and the closing summary table.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import resource
import sys
import time
from statistics import median
from typing import Any, Callable

import flax
import jax
import jaxlib
import numpy as np
import optax

from jaxmadrl.study.grid import usable_cpus


@dataclasses.dataclass
class Report:
    """Prints one labelled line per number and keeps them for the closing table."""

    rows: list[tuple[str, str, str, str]] = dataclasses.field(default_factory=list)
    shared: dict[str, float] = dataclasses.field(default_factory=dict)  # numbers sections reuse

    def number(self, section: str, label: str, value: float, unit: str, fmt: str = ",.2f") -> None:
        text = f"{value:{fmt}}"
        self.rows.append((section, label, text, unit))
        print(f"[{section}] {label}: {text} {unit}", flush=True)

    @staticmethod
    def note(section: str, text: str) -> None:
        print(f"[{section}] note: {text}", flush=True)

    def table(self) -> str:
        header = ("section", "measurement", "value", "unit")
        widths = [max(len(row[i]) for row in self.rows + [header]) for i in range(4)]
        line = lambda row: "  ".join(
            [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]), row[3]]
        )
        rule = "  ".join("-" * w for w in widths)
        return "\n".join([line(header), rule] + [line(row) for row in self.rows])


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (ru_maxrss is KiB on Linux, B on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """(What ``fn()`` returns, wall-clock seconds of the call)."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def seconds(fn: Callable[[], Any]) -> float:
    """Wall-clock seconds of one call of ``fn``, until every array it returns is ready."""
    return timed(lambda: jax.block_until_ready(fn()))[1]


def interleaved(tasks: dict[str, Callable[[], Any]], rounds: int, warmup: int) -> dict[str, list[float]]:
    """Seconds per call of each task over ``rounds`` rounds, after ``warmup`` untimed rounds.

    Every round calls every task once; odd rounds go in reverse order, so a drift in machine
    speed affects all tasks alike.
    """
    for _ in range(warmup):
        for fn in tasks.values():
            jax.block_until_ready(fn())
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for r in range(rounds):
        order = list(tasks.items())
        for name, fn in order if r % 2 == 0 else order[::-1]:
            times[name].append(seconds(fn))
    return times


def median_ratio(numerators: list[float], denominators: list[float]) -> float:
    """Median over rounds of the per-round ratio (the robust form of a ratio under drift)."""
    return median([n / d for n, d in zip(numerators, denominators)])


def xla_cost(compiled) -> dict[str, float]:
    """'flops' and 'bytes accessed' from XLA's cost analysis of a compiled program (summed
    if the JAX version returns one dict per HLO module); {} if unavailable."""
    analysis = compiled.cost_analysis()
    if not analysis:
        return {}
    entries = analysis if isinstance(analysis, (list, tuple)) else [analysis]
    return {key: sum(float(entry.get(key, 0.0)) for entry in entries) for key in ("flops", "bytes accessed")}


def print_environment() -> None:
    """Prints the date, the versions of Python and the libraries, the backend and devices, the
    CPU count (and the CPUs this process may use) and ``XLA_FLAGS``."""
    print(f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(
        f"python {platform.python_version()}, jax {jax.__version__}, jaxlib {jaxlib.__version__}, "
        f"flax {flax.__version__}, optax {optax.__version__}, numpy {np.__version__}"
    )
    print(f"backend: {jax.default_backend()}; devices: {jax.devices()}")
    print(
        f"os.cpu_count(): {os.cpu_count()}; usable by this process: {usable_cpus()}; "
        f"XLA_FLAGS: {os.environ.get('XLA_FLAGS', '(unset)')}"
    )
