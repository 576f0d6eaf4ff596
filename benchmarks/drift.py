"""How far one small sweep drifts between compiled programs and instruction sets.

    python benchmarks/drift.py                        # 4 lanes, 50 agents, 120 episodes
    python benchmarks/drift.py --episodes=60 --at=10,30,60

Runs the same sweep (one seed, actor LR × critic LR in {1e-3, 1e-1}², full size) through
``python -m jaxmadrl.sweep`` several times: as the CPU default (one lane per call), under
``XLA_FLAGS=--xla_cpu_max_isa=AVX2`` (the code XLA would generate for a CPU without
AVX-512), and with 2 and all 4 lanes per call. Against the first, it prints per metric the
largest relative difference over lanes at the chosen episodes — |a − b| / max |b|, the
maximum over a lane's elements (agents, layers) against the reference's largest magnitude
there — and whether any lane's stopping episodes differ. A Markdown table, for
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
from absl import app, flags

flags.DEFINE_integer("episodes", 120, "Training episodes of the sweep.")
flags.DEFINE_list("at", ["10", "50", "120"], "Episodes (1-based) at which the differences are shown.")
flags.DEFINE_list("actor_lrs", ["1e-3", "1e-1"], "Actor learning rates of the sweep.")
flags.DEFINE_list("critic_lrs", ["1e-3", "1e-1"], "Critic learning rates of the sweep.")
FLAGS = flags.FLAGS

REFERENCE = "default ISA, 1 lane/call"


def variants(n_lanes: int) -> dict[str, tuple[str, list[str]]]:
    """Name → (extra XLA flags, extra sweep flags); the reference first."""
    return {
        REFERENCE: ("", ["--lanes_per_call=1"]),
        "AVX2, 1 lane/call": ("--xla_cpu_max_isa=AVX2", ["--lanes_per_call=1"]),
        "default ISA, 2 lanes/call": ("", ["--lanes_per_call=2"]),
        f"default ISA, {n_lanes} lanes/call": ("", [f"--lanes_per_call={n_lanes}"]),
    }


def run_sweep(out: pathlib.Path, xla_flags: str, extra: list[str]) -> pathlib.Path:
    env = {**os.environ, "XLA_FLAGS": " ".join(f for f in (os.environ.get("XLA_FLAGS", ""), xla_flags) if f)}
    command = [
        sys.executable,
        "-m",
        "jaxmadrl.sweep",
        f"--actor_lrs={','.join(FLAGS.actor_lrs)}",
        f"--critic_lrs={','.join(FLAGS.critic_lrs)}",
        f"--episodes={FLAGS.episodes}",
        "--chunk=60",
        f"--out={out}",
        *extra,
    ]
    subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return out


def load(run_dir: pathlib.Path) -> tuple[dict, dict]:
    with np.load(run_dir / "metrics.npz") as saved:
        metrics = dict(saved)
    return metrics, json.loads((run_dir / "summary.json").read_text())


def relative_difference(values: np.ndarray, reference: np.ndarray) -> float:
    """Largest |a − b| over lanes of (lanes, ...) arrays, each lane against the largest
    |reference| of that lane; 0 where both are NaN (not computed in that episode)."""
    values, reference = (np.asarray(x, np.float64).reshape(x.shape[0], -1) for x in (values, reference))
    both_missing = np.isnan(values) & np.isnan(reference)
    difference = np.where(both_missing, 0.0, np.abs(values - reference))
    scale = np.nanmax(np.abs(reference), axis=1, initial=0.0)
    return float(np.max(np.where(scale[:, None] > 0, difference / np.maximum(scale, 1e-300)[:, None], difference)))


def stopping_difference(lane: dict, reference: dict) -> str | None:
    """How one lane's stopping episodes differ from the reference's, or None if they do not."""
    parts = [
        f"{name} {lane[name]} vs {reference[name]}"
        for name in ("all_actors_stopped", "critic_first_unchanged")
        if lane[name] != reference[name]
    ]
    actors = sum(a != b for a, b in zip(lane["actor_first_unchanged"], reference["actor_first_unchanged"]))
    if actors:
        parts.append(f"first-unchanged episode of {actors}/{len(lane['actor_first_unchanged'])} actors")
    return "; ".join(parts) or None


def main(argv):
    del argv
    n_lanes = len(FLAGS.actor_lrs) * len(FLAGS.critic_lrs)
    at = [int(episode) for episode in FLAGS.at]
    with tempfile.TemporaryDirectory() as scratch:
        runs = {
            name: load(run_sweep(pathlib.Path(scratch) / str(i), xla, extra))
            for i, (name, (xla, extra)) in enumerate(variants(n_lanes).items())
        }
    (reference, reference_summary), others = runs[REFERENCE], {k: v for k, v in runs.items() if k != REFERENCE}
    record = reference_summary["environment"][0]
    print(
        f"Sweep: actor LRs {FLAGS.actor_lrs} × critic LRs {FLAGS.critic_lrs}, 1 seed, 50 agents, "
        f"{FLAGS.episodes} episodes. Reference: {REFERENCE}. {record['cpu']} ({record['cpu_isa']}), "
        f"jax {record['versions']['jax']}, jaxlib {record['versions']['jaxlib']}.\n"
    )
    print("| metric | " + " | ".join(f"{name}: episode {', '.join(map(str, at))}" for name in others) + " |")
    print("|---|" + "---|" * len(others))
    for metric in sorted(reference):
        if reference[metric].dtype == bool:
            continue
        cells = [
            " / ".join(f"{relative_difference(m[metric][:, e - 1], reference[metric][:, e - 1]):.1e}" for e in at)
            for m, _ in others.values()
        ]
        print(f"| {metric} | " + " | ".join(cells) + " |")
    lanes = reference_summary["lanes"]
    cells = []
    for _, summary in others.values():
        differing = [(i, stopping_difference(lane, lanes[i])) for i, lane in enumerate(summary["lanes"])]
        cells.append(
            "; ".join(
                f"lane {i} (actor {lanes[i]['actor_lr']:g}, critic {lanes[i]['critic_lr']:g}): {text}"
                for i, text in differing
                if text
            )
            or "none"
        )
    print("| stopping episodes that differ (None = never) | " + " | ".join(cells) + " |")
    print(
        "\nReference stopping episodes (all actors, critic): "
        + ", ".join(
            f"actor {lane['actor_lr']:g} / critic {lane['critic_lr']:g}: {lane['all_actors_stopped']}, "
            f"{lane['critic_first_unchanged']}"
            for lane in lanes
        )
    )


if __name__ == "__main__":
    app.run(main)
