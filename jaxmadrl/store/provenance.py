"""What a run was computed with: code, versions, machine, backend, numerics and lane width.

Every run folder records it (``environment.json``, and in ``summary.json``), one record per
session that computed part of the run: a resume may happen on another machine, and only
records that agree describe results equal to an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import pathlib
import platform
import subprocess
import sys
import time

import jax

from jaxmadrl.core import numerics, paths, xla_flags

PACKAGES = ("jax", "jaxlib", "flax", "optax", "chex", "numpy", "absl-py", "matplotlib")
# The environment packages a domain may run on, recorded where installed (their versions
# decide a foreign domain's dynamics).
ENVIRONMENT_PACKAGES = ("gymnax", "jaxmarl", "brax")
# The fields that decide the float results of a fixed definition (the others, e.g. worker
# threads or the time, do not change a number).
NUMERICS_FIELDS = (
    "commit",
    "versions",
    "backend",
    "device_kind",
    "devices_per_call",
    "cpu",
    "cpu_isa",
    "xla_flags",
    "matmul_precision",
    "deterministic_gpu_ops",
    "lanes_per_call",
)


def project_commit() -> str | None:
    """The git commit of the code that runs (with "+changes" if the work tree differs from
    it), or None outside a git checkout."""
    root = paths.REPOSITORY_DIR
    try:

        def git(*args):
            return subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()

        if pathlib.Path(git("rev-parse", "--show-toplevel")).resolve() != root:
            return None  # an installed copy inside some other repository
        commit = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", "jaxmadrl")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+changes" if changed else "")


def source_digest() -> str:
    """A digest of the package's source and data files as they run (a git checkout or not)."""
    package = paths.PACKAGE_DIR
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.is_file() and p.suffix in (".py", ".json")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cpu_model() -> tuple[str, str]:
    """(the processor's model name, its widest x86 vector extension or "") of this host."""
    model, flags = None, set()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model is None:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    isa = next(
        (name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("sse4_2", "SSE4.2")) if flag in flags), ""
    )
    return model or platform.processor() or platform.machine(), isa


def versions() -> dict[str, str | None]:
    """Python's version, each of ``PACKAGES`` (None where not installed) and each installed
    one of ``ENVIRONMENT_PACKAGES``."""
    found = {"python": platform.python_version()}
    for package in PACKAGES + ENVIRONMENT_PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            if package in PACKAGES:
                found[package] = None
    return found


def environment_record(
    *,
    matmul_precision: str,
    lanes_per_call: int,
    devices_per_call: int,
    workers: int,
    activations: list[str],
    first_episode: int = 0,
    shard: str | None = None,
    memory: dict | None = None,
) -> dict:
    """The record of this session: what computes episodes ``first_episode`` on (of the
    lanes of ``shard`` "i/n", if it is one). ``activations``: the output activations in
    use, whose saturation edge is measured here; ``memory``: on a device that reports its
    memory, the estimate the lane width was checked or chosen on (``study.memory_fit``)."""
    model, isa = cpu_model()
    devices = jax.devices()
    return {
        "first_episode": first_episode,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": project_commit(),
        "source_digest": source_digest(),
        "versions": versions(),
        "backend": jax.default_backend(),
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "devices_per_call": devices_per_call,
        "cpu": model,
        "cpu_isa": isa,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "matmul_precision": matmul_precision,
        "deterministic_gpu_ops": xla_flags.deterministic_gpu_ops(),
        "lanes_per_call": lanes_per_call,
        "workers": workers,
        "saturation_edge": {name: numerics.saturation_edge(name) for name in activations},
        "command": " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]]),
        **({"shard": shard} if shard else {}),
        **({"memory": memory} if memory else {}),
    }


def numerics_differences(before: dict, now: dict) -> list[str]:
    """The names of the fields that decide float results and differ between two records
    (``XLA_FLAGS`` compared as a set of flags)."""

    def comparable(record, name):
        value = record.get(name)
        return sorted(value.split()) if name == "xla_flags" and isinstance(value, str) else value

    return [name for name in NUMERICS_FIELDS if comparable(before, name) != comparable(now, name)]


def describe_differences(before: dict, now: dict) -> str:
    """The fields that decide float results and differ, with the values where they are short
    ("lanes_per_call 1 → 4, versions"); "" if none."""

    def shown(name):
        if isinstance(before.get(name), dict) or isinstance(now.get(name), dict):
            return name
        return f"{name} {before.get(name)} → {now.get(name)}"

    return ", ".join(shown(name) for name in numerics_differences(before, now))


def numerics_line(record: dict) -> str:
    """One line for a progress log: the numerics a session runs with."""
    edges = ", ".join(numerics.describe_edge(name, edge) for name, edge in record["saturation_edge"].items())
    return (
        f"numerics: {record['matmul_precision']} matmul precision, deterministic GPU ops "
        f"{'on' if record['deterministic_gpu_ops'] else 'off'}, {edges} ({record['backend']} backend)"
    )


def describe(records: list[dict] | None) -> str:
    """A Markdown paragraph naming what a run was computed with (one line per session whose
    numerics differ from the first; a sharded run's sessions name their shard)."""
    if not records:
        return "Environment: not recorded (a run made before environments were recorded)."
    first = records[0]
    shards = sorted({record["shard"] for record in records if "shard" in record})
    split = f" ({len(shards)} shards, their sessions alike unless listed)" if shards else ""
    lines = [f"Environment{split}: {_one_line(first)}"]
    for record in records[1:]:
        changed = numerics_differences(first, record)
        if changed:
            where = f"Shard {record['shard']}, from" if "shard" in record else "Resumed at"
            lines.append(
                f"{where} episode {record['first_episode']} with other numerics "
                f"({', '.join(changed)}): {_one_line(record)}"
            )
    return "\n".join(lines)


def _one_line(record: dict) -> str:
    packages = ", ".join(f"{name} {version}" for name, version in record["versions"].items())
    edges = ", ".join(numerics.describe_edge(name, edge) for name, edge in record["saturation_edge"].items())
    device = (
        f"{record['cpu']} ({record['cpu_isa'] or 'unknown ISA'})"
        if record["backend"] == "cpu"
        else f"{record['device_count']} × {record['device_kind']}"
    )
    return (
        f"commit {record['commit'] or 'unknown'}; {packages}; {record['backend']} backend on {device}; "
        f"XLA_FLAGS '{record['xla_flags']}'; matmul precision {record['matmul_precision']}; "
        f"deterministic GPU ops {'on' if record['deterministic_gpu_ops'] else 'off'}; "
        f"{record['lanes_per_call']} lane(s) per call on {record['devices_per_call']} device(s), "
        f"{record['workers']} worker(s); {edges}."
    )
