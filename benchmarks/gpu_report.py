"""The GPU section of benchmarks/RESULTS.md from what ``benchmarks/gpu_check.sh OUT`` brought
back: the device and versions, each step's wall time and exit, compile time and
config-episodes/s of the paper's grid, GPU memory, achieved FLOP/s against the device's
peak, the GPU's stopping table beside the CPU's, and how far the two backends' metrics lie
apart where they are defined to agree.

    python benchmarks/gpu_report.py OUT [--cpu_run=sweeps/results/all16-3seeds] [--peak_tflops=67]

The CPU side is the seed-0 lanes of a committed 3-seed grid (the same definition, seed and
program; another backend). What is defined to agree between two backends is what agrees
between two compiled programs (tests/programs.py): the episodes acted with the initial
weights and the first train step on them, up to the rounding of one forward and backward
pass; later episodes diverge as any two programs' do, so only their stopping classes are
compared (stops within the first 300 episodes, late, never).
"""

from __future__ import annotations

import argparse
import csv
import pathlib
import re
import tarfile
import tempfile

import numpy as np

import jaxmadrl

AGREEING_EPISODES = 2  # as tests/programs.py
TRAIN_STEP_GFLOP_PER_LANE = 24 / 16  # RESULTS.md: a train step of 16 lanes is 24 GFLOP (50 agents, batch 64)


def steps_of(log: str) -> list[tuple[str, str, str]]:
    """(step, wall, exit) of every timed step in gpu_check.log."""
    walls = dict(re.findall(r"step (\w+): done in (\d+)s", log))
    exits = re.findall(r"step (\w+): limit \d+s: .*?\n(?:.*\n)*?exit code (\d+[^;]*)", log)
    return [(name, walls.get(name, "–"), code) for name, code in exits]


def section(log: str, step: str) -> str:
    """The part of gpu_check.log that a step wrote (its command's output)."""
    found = re.search(rf"step {step}: limit.*?(?=step {step}: done|\Z)", log, re.S)
    return found.group(0) if found else ""


def speed_of(log: str) -> tuple[str, str]:
    """(compile seconds, config-episodes/s at its end) of the paper's grid, from its progress lines."""
    grid = section(log, "all16")
    compiled = re.search(r"compiled in ([\d.]+) s", grid)
    rates = re.findall(r"^\[\d+/\d+\] ([\d.]+) config-episodes/s", grid, re.M)
    return (compiled.group(1) if compiled else "–", rates[-1] if rates else "–")


def peak_memory_mib(path: pathlib.Path) -> str:
    if not path.is_file():
        return "–"
    with path.open() as file:
        values = [row.get(" memory.used [MiB]", "") for row in csv.DictReader(file)]
    numbers = [int(value.split()[0]) for value in values if value.strip().split()[:1] and value.split()[0].isdigit()]
    return f"{max(numbers)} MiB" if numbers else "–"


def stop_class(stop: int | None) -> str:
    return "never" if stop is None else "early" if stop <= 300 else "late"


def comparison(gpu: jaxmadrl.Run, cpu: jaxmadrl.Run) -> list[str]:
    """The stopping table side by side and the metrics' largest relative difference in the
    episodes defined to agree, lane by lane (the CPU run's lanes of seed 0)."""
    rows = ["| actor LR | critic LR | GPU stop | CPU stop (seed 0) | same class |", "|---|---|---|---|---|"]
    same = 0
    largest: dict[str, float] = {}
    for lane in gpu.lanes:
        (cpu_lane,) = cpu.select(seed=lane["seed"], actor_lr=lane["actor_lr"], critic_lr=lane["critic_lr"])
        ours, theirs = lane["all_actors_stopped"], cpu.lanes[cpu_lane]["all_actors_stopped"]
        same += stop_class(ours) == stop_class(theirs)
        rows.append(
            f"| {lane['actor_lr']:g} | {lane['critic_lr']:g} | {ours or 'never'} | {theirs or 'never'} | "
            f"{'yes' if stop_class(ours) == stop_class(theirs) else 'no'} |"
        )
        for name, values in gpu.metrics.items():
            if name in cpu.metrics and values.dtype != bool:
                a = np.asarray(values[lane["lane"], :AGREEING_EPISODES], float)
                b = np.asarray(cpu.metrics[name][cpu_lane, :AGREEING_EPISODES], float)
                finite = np.isfinite(a) & np.isfinite(b)
                if finite.any():
                    scale = np.maximum(np.abs(b[finite]), 1e-12)
                    largest[name] = max(largest.get(name, 0.0), float(np.max(np.abs(a[finite] - b[finite]) / scale)))
    worst = sorted(largest.items(), key=lambda item: -item[1])[:5]
    return rows + [
        "",
        f"Stopping classes (by episode 300, later, never) agree in {same}/{len(gpu.lanes)} lanes. Largest relative "
        f"difference in the first {AGREEING_EPISODES} episodes (defined to agree up to one pass's rounding), worst "
        "metrics: " + ", ".join(f"{name} {value:.1e}" for name, value in worst) + ".",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--cpu_run", default="sweeps/results/all16-3seeds")
    parser.add_argument("--peak_tflops", type=float, default=67.0, help="the device's dense float32 peak")
    args = parser.parse_args()
    log = (args.out / "gpu_check.log").read_text()
    lines = ["## The GPU check", "", "| step | wall (s) | exit |", "|---|---|---|"]
    lines += [f"| {name} | {wall} | {code} |" for name, wall, code in steps_of(log)]
    compile_s, rate = speed_of(log)
    lines += [
        "",
        f"Paper's grid (16 lanes): compiled in {compile_s} s, {rate} config-episodes/s; peak GPU memory "
        f"{peak_memory_mib(args.out / 'gpu_memory.csv')}.",
    ]
    archive = args.out / "all16.tar.gz"
    if archive.is_file():
        with tempfile.TemporaryDirectory() as folder:
            with tarfile.open(archive) as packed:
                packed.extractall(folder, filter="data")
            gpu = jaxmadrl.load_run(pathlib.Path(folder) / "all16")
            record = gpu.environment[-1]
            if rate != "–":
                flops = float(rate) * TRAIN_STEP_GFLOP_PER_LANE * 1e9
                lines.append(
                    f"Train steps alone: {flops / 1e12:.2f} TFLOP/s, {100 * flops / (args.peak_tflops * 1e12):.1f} % "
                    f"of the {args.peak_tflops:g} TFLOP/s float32 peak assumed."
                )
            lines += [
                "",
                f"Device: {record['device_count']} × {record['device_kind']}, {record['backend']} backend; "
                + ", ".join(f"{k} {v}" for k, v in record["versions"].items())
                + ".",
                "",
            ]
            cpu = jaxmadrl.load_run(args.cpu_run)
            if cpu.definition.train != gpu.definition.train:
                lines.append(f"{args.cpu_run} is a run of another program than the GPU's: not compared.")
            else:
                lines += comparison(gpu, cpu)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
