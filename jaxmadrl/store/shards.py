"""One sweep split into shards — e.g. the tasks of a cluster's job array — merged into one run.

Lanes never communicate, so shard i of n simply runs a contiguous share of the lanes, with
the lane keys and settings those lanes have in the whole sweep. The share is counted in
calls of the compiled program (blocks of ``lanes_per_call`` lanes): every block is the
block of the unsharded run of the same lane width, so the merged results are bit for bit
that run's. The lane width is therefore one setting of the whole sharded sweep.

All shards write into one run folder: ``sweep.json`` (the definition), ``shards.json``
(the plan: shard count, lane width, matmul precision and the code, written by the first
shard and checked by every later one) and a folder per shard, ``shard-<i>-of-<n>/``,
which is a run folder of its own for the shard's lanes (lock, checkpoints, resume;
``run_folder``). The shard that completes last merges the parts into the results of an
unsharded run (``merge``); ``python -m jaxmadrl.sweep --merge RUN`` does it by hand.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import shutil

import numpy as np

from jaxmadrl.core import files, numerics
from jaxmadrl.core.limits import SettingError, check_integer
from jaxmadrl.store import final_params, names, provenance, run_folder
from jaxmadrl.store.run_folder import RunFolderError
from jaxmadrl.study import grid, lane_axis
from jaxmadrl.study.definition import SweepDefinition

LOCK_WAIT_S = 600  # how long a shard waits for a sibling that sets up or merges the run folder


@dataclasses.dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0 ≤ index < count), written "index/count"."""

    index: int
    count: int

    def __post_init__(self):
        count = check_integer("shards", self.count)
        if not isinstance(self.index, int) or not 0 <= self.index < count:
            raise SettingError("shard", f"index must be in [0, {count}), got {self.index!r}")

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """``"i/n"`` → Shard(i, n); SettingError("shard", …) if it is not of that form."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
        if not match:
            raise SettingError("shard", f"must be i/n with 0 <= i < n (e.g. 0/3), got {text!r}")
        try:
            return cls(int(match[1]), int(match[2]))
        except SettingError as error:
            raise SettingError("shard", f"must be i/n with 0 <= i < n (e.g. 0/3), got {text!r}: {error}") from None

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def folder_name(self) -> str:
        return names.shard_folder(self.index, self.count)

    def lane_range(self, n_lanes: int, lanes_per_call: int) -> range:
        """The lanes of this shard: a contiguous share of the ``n_lanes // lanes_per_call``
        calls (SettingError if there are fewer calls than shards)."""
        calls = n_lanes // lanes_per_call
        if self.count > calls:
            raise SettingError(
                "shard",
                f"{self}: the {n_lanes} lanes make {calls} call(s) of {lanes_per_call} lane(s), "
                f"fewer than {self.count} shards",
            )
        first, last = self.index * calls // self.count, (self.index + 1) * calls // self.count
        return range(first * lanes_per_call, last * lanes_per_call)


def as_shard(value) -> Shard | None:
    """None, a Shard, or its text "i/n", as a Shard (or None)."""
    return value if value is None or isinstance(value, Shard) else Shard.parse(value)


SLURM_VARIABLES = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_STEP")


def from_slurm(environ=os.environ) -> tuple[Shard, str] | None:
    """The shard of this task of a SLURM job array and the reason, naming the variables it
    was read from; None outside a job array. The array's task ids must be a range
    (``--array=0-9`` or ``1-10:1``, ``0-8:2``): index = (id - min) / step, count = the
    number of tasks (``SLURM_ARRAY_TASK_COUNT``, or from ``_MIN``/``_MAX``/``_STEP``).
    SettingError("shard", …) if they are not, or are malformed."""
    if "SLURM_ARRAY_TASK_ID" not in environ:
        return None
    given = {name: environ[name] for name in (*SLURM_VARIABLES, "SLURM_ARRAY_TASK_COUNT") if name in environ}
    shown = ", ".join(f"{name}={value}" for name, value in given.items())
    try:
        values = {name: int(value) for name, value in given.items()}
    except ValueError:
        raise SettingError("shard", f"cannot be read from the SLURM job array ({shown}); give --shard=i/n") from None
    task, first, step = (
        values["SLURM_ARRAY_TASK_ID"],
        values.get("SLURM_ARRAY_TASK_MIN", 0),
        values.get("SLURM_ARRAY_TASK_STEP", 1),
    )
    span = (
        (values["SLURM_ARRAY_TASK_MAX"] - first) // step + 1 if "SLURM_ARRAY_TASK_MAX" in values and step > 0 else None
    )
    count = values.get("SLURM_ARRAY_TASK_COUNT", span)
    regular = step > 0 and count is not None and (span is None or span == count) and (task - first) % step == 0
    if not regular or not 0 <= (task - first) // step < count:
        raise SettingError(
            "shard",
            f"cannot be taken from the SLURM job array ({shown}): its task ids are not a range "
            "first-last[:step] holding this one; give --shard=i/n",
        )
    return Shard((task - first) // step, count), f"from the SLURM job array ({shown})"


def default_shard_lanes_per_call(n_lanes: int, count: int) -> int:
    """1 on the CPU; elsewhere the widest divisor of the lanes that still makes a call per
    shard (one call per shard where ``count`` divides the lanes)."""
    if grid.default_lanes_per_call(n_lanes) == 1:
        return 1
    return max(d for d in range(1, n_lanes + 1) if n_lanes % d == 0 and n_lanes // d >= count)


def code_version() -> dict:
    """What must be equal for shards to be merged: the package's source and the versions of
    the libraries that compute."""
    versions = {k: v for k, v in provenance.versions().items() if k != "python"}
    return {"source_digest": provenance.source_digest(), "versions": versions}


def is_sharded(run_dir: pathlib.Path) -> bool:
    return (run_dir / names.PLAN).is_file()


def read_plan(run_dir: pathlib.Path) -> dict:
    try:
        plan = json.loads((run_dir / names.PLAN).read_text())
        int(plan["shards"]), int(plan["lanes_per_call"]), str(plan["matmul_precision"]), dict(plan["code"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise RunFolderError(f"{run_dir / names.PLAN} is not a plan of shards: {error}") from None
    return plan


def _differing_setting(recorded: SweepDefinition, given: SweepDefinition) -> str:
    before, now = recorded.to_dict(), given.to_dict()
    name = next((k for k in before if before[k] != now.get(k)), None)
    return f"its {name} is {before[name]}, not {now.get(name)}" if name else "its settings differ"


def join(
    definition: SweepDefinition | None,
    run_dir: pathlib.Path,
    shard: Shard,
    *,
    resume: bool,
    lanes_per_call: int | None,
    matmul_precision: str | None,
) -> tuple[SweepDefinition, dict]:
    """Makes ``shard`` a part of the sharded run in ``run_dir``: the first shard creates the
    folder and writes the plan (``lanes_per_call``, ``matmul_precision``: None takes the
    default) and the definition; every later one, and every resume, must agree with them
    (given settings, shard count and code). Creates the shard's folder (a new shard) or
    checks that it exists (a resume). Returns (the definition, the plan). RunFolderError
    or SettingError if the shard does not belong there; a folder it created is then
    removed again."""
    if matmul_precision is not None:
        numerics.check_matmul_precision(matmul_precision)
    if (run_dir / names.DEFINITION).is_file() and not is_sharded(run_dir):
        raise RunFolderError(
            f"{run_dir} holds a sweep that is not sharded; "
            + ("resume it without a shard" if resume else "choose a new folder")
        )
    if resume and not is_sharded(run_dir):
        raise RunFolderError(f"{run_dir} is not a sharded sweep run (no {names.PLAN})")
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with run_folder.held(run_dir, LOCK_WAIT_S, "setting up or merging shards"):
            # The plan is written before the definition: a definition without a plan is an
            # unsharded run's.
            if not is_sharded(run_dir):
                if (run_dir / names.DEFINITION).is_file():
                    raise RunFolderError(f"{run_dir} holds a sweep that is not sharded; choose a new folder")
                _write_plan(run_dir, definition, shard, lanes_per_call, matmul_precision)
            created = False  # siblings may use it from now on
            if not (run_dir / names.DEFINITION).is_file() and definition is not None:
                run_folder.write_definition(run_dir, definition)
            recorded = run_folder.read_definition(run_dir)
            if definition is not None and definition != recorded:
                raise RunFolderError(
                    f"{run_dir} holds shards of another sweep: {_differing_setting(recorded, definition)}"
                )
            plan = check_plan(run_dir, shard, lanes_per_call=lanes_per_call, matmul_precision=matmul_precision)
            part = run_dir / shard.folder_name
            if resume and not part.is_dir():
                raise RunFolderError(f"shard {shard} of {run_dir} has not started; start it without resuming")
            if not resume:
                try:
                    part.mkdir()
                except FileExistsError:
                    raise RunFolderError(f"shard {shard} of {run_dir} has already started ({part}); resume it")
    except Exception:
        if created:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return recorded, plan


def _write_plan(run_dir, definition: SweepDefinition, shard: Shard, lanes_per_call, matmul_precision) -> None:
    n_lanes = len(definition.lanes())
    width = lanes_per_call or default_shard_lanes_per_call(n_lanes, shard.count)
    lane_axis.check_lanes_per_call(n_lanes, width)
    shard.lane_range(n_lanes, width)
    plan = {
        "shards": shard.count,
        "lanes_per_call": width,
        "matmul_precision": matmul_precision or numerics.DEFAULT_MATMUL_PRECISION,
        "code": code_version(),
        "commit": provenance.project_commit(),
    }
    files.write_atomically(run_dir / names.PLAN, lambda f: f.write(files.json_text(plan).encode()))


def check_plan(run_dir: pathlib.Path, shard: Shard, *, lanes_per_call=None, matmul_precision=None) -> dict:
    """The plan of the sharded run, if ``shard`` and the given settings agree with it and
    this process runs the plan's code; else RunFolderError."""
    plan = read_plan(run_dir)
    if shard.count != plan["shards"]:
        raise RunFolderError(f"{run_dir} is split into {plan['shards']} shards, not {shard.count}")
    for name, given in (("lanes_per_call", lanes_per_call), ("matmul_precision", matmul_precision)):
        if given is not None and given != plan[name]:
            raise RunFolderError(f"{run_dir}'s shards run with {name} {plan[name]}, not {given}")
    mine = code_version()
    if plan["code"] != mine:
        changed = [name for name in mine if plan["code"].get(name) != mine[name]]
        raise RunFolderError(
            f"{run_dir}'s shards were started by other code ({' and '.join(changed)} differ: commit "
            f"{plan.get('commit') or 'unknown'}); shards of different code cannot be merged"
        )
    return plan


def write_part(part_dir: pathlib.Path, shard: Shard, metrics: dict, params: dict, rows: list[dict], environments):
    """A finished shard's results in its own folder: its lanes' metrics, parameters and rows."""
    summary = {"shard": str(shard), "code": code_version(), "environment": environments, "lanes": rows}
    run_folder.write_summary(part_dir, summary, metrics, params)


def shard_states(run_dir: pathlib.Path, plan: dict) -> list[tuple[Shard, str]]:
    """(shard, "done" / "not started" / "at episode E of N") for every shard of the plan."""
    episodes = run_folder.read_definition(run_dir).episodes
    states = []
    for index in range(plan["shards"]):
        shard = Shard(index, plan["shards"])
        part = run_dir / shard.folder_name
        if run_folder.is_complete(part):
            states.append((shard, "done"))
        elif not part.is_dir():
            states.append((shard, "not started"))
        else:
            states.append((shard, f"at episode {_episodes_done(part)} of {episodes}"))
    return states


def _episodes_done(part: pathlib.Path) -> int:
    try:
        index = json.loads((part / names.CHECKPOINT / names.CHECKPOINT_INDEX).read_text())
        return int(index["episodes_done"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def merge(run_dir: pathlib.Path) -> None:
    """Joins the finished shards of the run in ``run_dir`` into the results an unsharded run
    writes (nothing to do if they are joined already); the shards' metrics files are then
    removed. RunFolderError naming every shard that is missing or unfinished, or whose
    part was computed by other code than the plan's."""
    if not is_sharded(run_dir):
        raise RunFolderError(f"{run_dir} is not a sharded sweep run (no {names.PLAN})")
    with run_folder.held(run_dir, LOCK_WAIT_S, "setting up or merging shards"):
        if run_folder.is_complete(run_dir):
            return
        _merge_locked(run_dir)


def _merge_locked(run_dir: pathlib.Path) -> None:
    plan, definition = read_plan(run_dir), run_folder.read_definition(run_dir)
    absent = [f"shard {shard} {state}" for shard, state in shard_states(run_dir, plan) if state != "done"]
    if absent:
        raise RunFolderError(f"cannot merge {run_dir}: {'; '.join(absent)}")
    parts = [run_dir / Shard(index, plan["shards"]).folder_name for index in range(plan["shards"])]
    rows, environments, per_part, params_per_part = [], [], [], []
    for part in parts:
        try:
            summary = json.loads((part / names.SUMMARY).read_text())
            with np.load(part / names.METRICS) as saved:
                per_part.append(dict(saved))
            params_per_part.append(final_params.read(part))
        except (OSError, ValueError, KeyError) as error:
            raise RunFolderError(f"cannot merge {run_dir}: {part} cannot be read: {error}") from None
        if summary.get("code") != plan["code"]:
            raise RunFolderError(f"cannot merge {run_dir}: {part} was computed by other code than the plan's")
        rows += summary["lanes"]
        environments += summary["environment"]
    if [row["lane"] for row in rows] != list(range(len(definition.lanes()))):
        raise RunFolderError(f"cannot merge {run_dir}: its shards do not hold every lane once")
    metrics = {name: np.concatenate([part[name] for part in per_part]) for name in per_part[0]}
    params = {name: np.concatenate([part[name] for part in params_per_part]) for name in params_per_part[0]}
    run_folder.write_environments(run_dir, environments)
    run_folder.write_results(run_dir, definition, metrics, params, rows, environments)
    for part in parts:  # joined into metrics.npz and params.npz
        (part / names.METRICS).unlink(missing_ok=True)
        (part / names.PARAMS).unlink(missing_ok=True)
