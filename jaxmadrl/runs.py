"""A sweep's run folder: created exclusively, held under a lock, checkpointed after every
chunk of episodes, resumable, and finished into results.

The folder holds ``sweep.json`` (the definition), ``environment.json`` (what each session
computed with: code, versions, machine, numerics, lane width; see ``provenance``),
``checkpoint/`` (the whole state after the last finished chunk, one file per block of
lanes), ``metrics/chunk_*.npz`` and ``run.lock``, which one process at a time holds. When
the run completes it holds ``metrics.npz`` (every metric as (lanes, episodes, ...)),
``summary.json``, ``summary.csv`` (one row per lane) and ``table.txt`` (the stopping
table of each variant); the chunk files and, unless asked to keep it, the checkpoint are
then deleted.

``run_sweep`` is the way in, from Python or a command line. Every lane runs the same
compiled chunk program (vmapped over lanes), called on blocks of ``lanes_per_call``
lanes. Programs of different widths round differently, and training amplifies rounding,
so a resume keeps the recorded width, devices per call, matmul precision and GPU
determinism unless asked otherwise (it then reports that results from there on will no
longer equal an uninterrupted run).
"""

from __future__ import annotations

import dataclasses
import errno
import json
import pathlib
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxmadrl import analysis, checkpoints, diagnostics, files, lanes, numerics, provenance, results
from jaxmadrl.definition import SweepDefinition
from jaxmadrl.limits import SettingError, check_integer

CHECKPOINT, DEFINITION, CHUNKS, ENVIRONMENT = "checkpoint", "sweep.json", "metrics", "environment.json"


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked: it exists, another process holds it, or
    it is damaged or another sweep's."""


def read_definition(run_dir: pathlib.Path) -> SweepDefinition:
    """The definition of the run in ``run_dir`` (RunFolderError if there is none or it is bad)."""
    if not (run_dir / DEFINITION).is_file():
        raise RunFolderError(f"{run_dir} is not a sweep run (no {DEFINITION})")
    if (run_dir / "checkpoint.npz").is_file():
        raise RunFolderError(
            f"{run_dir} has a checkpoint of an older format (checkpoint.npz); this version cannot resume it"
        )
    try:
        return SweepDefinition.from_dict(json.loads((run_dir / DEFINITION).read_text()))
    except SettingError as error:
        raise RunFolderError(
            f'{run_dir / DEFINITION} is not a valid sweep definition: "{error.setting}" {error.problem}'
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
        raise RunFolderError(f"{run_dir / DEFINITION} is not a valid sweep definition: {error}") from None


def is_complete(run_dir: pathlib.Path) -> bool:
    return (run_dir / "summary.json").is_file()


def is_resumable(run_dir: pathlib.Path) -> bool:
    return (run_dir / CHECKPOINT / checkpoints.CHECKPOINT_INDEX).is_file()


def recorded_environments(run_dir: pathlib.Path) -> list[dict]:
    """The environment records of a run's earlier sessions ([] for a run made before they
    were recorded)."""
    path = run_dir / ENVIRONMENT
    if not path.is_file():
        return []
    try:
        records = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise RunFolderError(f"{path} cannot be read: {error}")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise RunFolderError(f"{path} is not a list of environment records")
    return records


def finish(run_dir: pathlib.Path, definition: SweepDefinition, trackers, environments: list[dict]) -> list[dict]:
    """Joins the chunk files into metrics.npz and writes the per-lane summaries and table;
    ``trackers``: every lane's stop tracker on host (leading lane axis); ``environments``:
    the record of every session that computed part of the run."""
    chunk_files = sorted((run_dir / CHUNKS).glob("chunk_*.npz"))
    per_chunk = [dict(np.load(f)) for f in chunk_files]
    # (episodes, lanes, ...) → (lanes, episodes, ...)
    metrics = {k: np.swapaxes(np.concatenate([c[k] for c in per_chunk]), 0, 1) for k in per_chunk[0]}
    files.write_atomically(run_dir / "metrics.npz", lambda f: np.savez_compressed(f, **metrics))
    rows = []
    for index, lane in enumerate(definition.lanes()):
        lane_metrics = {k: v[index] for k, v in metrics.items()}
        tracker = jax.tree.map(lambda x: x[index], trackers)
        rows.append(
            {"lane": index, **lane._asdict(), **results.lane_summary(tracker, lane_metrics, definition.episodes)}
        )
    table = results.stopping_tables(rows, definition.episodes)
    files.write_atomically(run_dir / "summary.csv", lambda f: f.write(results.summaries_csv(rows).encode()))
    files.write_atomically(run_dir / "table.txt", lambda f: f.write((table + "\n").encode()))
    files.write_atomically(
        run_dir / "summary.json",
        lambda f: f.write(
            files.json_text({"definition": definition.to_dict(), "environment": environments, "lanes": rows}).encode()
        ),
    )
    return rows


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where a running sweep stands: reported once after compiling (``episodes_done ==
    first_episode``) and after every chunk. ``environment``: this session's record;
    ``changed``: the numerics in which it differs from the run's previous session ("" if
    none; results from ``first_episode`` on then differ from an uninterrupted run)."""

    name: str
    lanes: int
    variants: int
    calls: int
    lanes_per_call: int
    episodes: int
    first_episode: int
    episodes_done: int
    lanes_all_stopped: int
    compile_s: float
    elapsed_s: float  # since this session's first chunk began
    environment: dict
    changed: str

    @property
    def config_episodes_per_s(self) -> float:
        done = self.episodes_done - self.first_episode
        return done * self.lanes / self.elapsed_s if done and self.elapsed_s > 0 else float("nan")

    @property
    def eta_s(self) -> float:
        return (self.episodes - self.episodes_done) * self.lanes / self.config_episodes_per_s


def run_sweep(
    definition: SweepDefinition | None,
    out_dir,
    *,
    resume: bool = False,
    lanes_per_call: int | None = None,
    devices: int | None = None,
    workers: int | None = None,
    matmul_precision: str | None = None,
    deterministic_ops: bool | None = None,
    keep_checkpoint: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
) -> analysis.Run:
    """Runs ``definition`` in the new folder ``out_dir`` — or, with ``resume``, continues the
    run there from its last checkpoint (``definition`` None, or the run's own) — and
    returns the finished run (``analysis.load_run``).

    How it computes, not what: ``lanes_per_call`` lanes per call of the compiled program
    (default: 1 on the CPU, all elsewhere), at most ``devices`` devices per call, ``workers``
    calls at once on host threads (default: one per CPU), ``matmul_precision`` and
    deterministic GPU ops (which must be chosen before JAX starts a backend). Left at None,
    a resume keeps what the run recorded, so that it computes as the run did. The final
    state is kept in ``out_dir/checkpoint/`` if ``keep_checkpoint``. ``on_progress`` gets a
    ``Progress`` after compiling and after every chunk.

    Raises SettingError (a bad setting), RunFolderError (the folder exists, is in use, is
    damaged or another sweep's) and OSError (the disk); a new run's folder is removed again
    if the run fails before its first checkpoint.
    """
    run_dir = pathlib.Path(out_dir)
    environments = []
    if resume:
        recorded = read_definition(run_dir)
        if definition is not None and definition != recorded:
            raise RunFolderError(f"{run_dir} holds another sweep ({recorded.name}) than the one given")
        definition = recorded
        if is_complete(run_dir):
            return analysis.load_run(run_dir)
        environments = recorded_environments(run_dir)
    elif definition is None:
        raise SettingError("definition", "is required for a new run")
    execution = _execution(
        environments[-1] if environments else {},
        lanes_per_call=lanes_per_call,
        devices=devices,
        workers=workers,
        matmul_precision=matmul_precision,
        deterministic_ops=deterministic_ops,
    )
    if execution["deterministic_ops"] is not None:
        try:
            numerics.request_deterministic_gpu_ops(execution["deterministic_ops"])
        except RuntimeError as error:
            raise SettingError("deterministic_ops", f"cannot be changed now: {error}") from None
    n_lanes = len(definition.lanes())
    lanes_per_call = execution["lanes_per_call"] or lanes.default_lanes_per_call(n_lanes)
    try:
        lanes.check_lanes_per_call(n_lanes, lanes_per_call)
    except ValueError as error:
        raise SettingError("lanes_per_call", str(error).removeprefix("lanes per call ")) from None
    if not resume:
        try:
            files.create_new_folder(run_dir)
        except FileExistsError:
            raise RunFolderError(f"{run_dir} already exists; choose a new folder")
    try:
        with files.locked(run_dir):
            _run_locked(
                definition,
                run_dir,
                resume,
                execution,
                environments,
                lanes_per_call,
                keep_checkpoint,
                on_progress or (lambda progress: None),
            )
    except files.FolderInUse as error:
        raise RunFolderError(f"{error} (another sweep or resume); wait for it to end")
    except Exception:
        if not resume and not is_resumable(run_dir) and not is_complete(run_dir):
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing computed is lost
        raise
    return analysis.load_run(run_dir)


# Settings that change how lanes round, and the field of the environment record that holds
# each: left at None, a resume takes the recorded value.
RECORDED_EXECUTION = {
    "lanes_per_call": "lanes_per_call",
    "devices": "devices_per_call",
    "matmul_precision": "matmul_precision",
    "deterministic_ops": "deterministic_gpu_ops",
}


def _execution(recorded: dict, **given) -> dict:
    """The execution settings: each given value, else the recorded one (the recorded
    devices per call only with the recorded lanes per call), else the default."""
    if given["lanes_per_call"] not in (None, recorded.get("lanes_per_call")):
        recorded = {k: v for k, v in recorded.items() if k != "devices_per_call"}  # it was for the old width
    chosen = {
        name: recorded.get(RECORDED_EXECUTION[name]) if value is None and name in RECORDED_EXECUTION else value
        for name, value in given.items()
    }
    if chosen["matmul_precision"] is None:
        chosen["matmul_precision"] = numerics.DEFAULT_MATMUL_PRECISION
    for name in ("lanes_per_call", "devices", "workers"):
        if chosen[name] is not None:
            chosen[name] = check_integer(name, chosen[name])
    numerics.check_matmul_precision(chosen["matmul_precision"])
    return chosen


def _restore_or_start(definition, run_dir, resuming, program, place, sharding):
    """(block states, episodes done): from the checkpoint when resuming one, else a new start
    (writing the definition)."""
    checkpoint = run_dir / CHECKPOINT
    if resuming and (checkpoint / checkpoints.CHECKPOINT_INDEX).is_file():
        template = jax.eval_shape(program.init, definition.lane_keys(), definition.hyperparams())
        try:
            state, done = checkpoints.load_checkpoint(checkpoint, template)
        except ValueError as error:
            raise RunFolderError(f"cannot resume from {checkpoint}: {error}")
        chunks = {int(p.stem.split("_")[1]) for p in (run_dir / CHUNKS).glob("chunk_*.npz")}
        expected = set(range(0, done, definition.chunk))
        if not 0 < done <= definition.episodes or not expected <= chunks:
            raise RunFolderError(
                f"cannot resume from {checkpoint}: it says {done} of {definition.episodes} "
                f"episodes are done, but {CHUNKS}/ holds the metrics of "
                f"{len(expected & chunks)} of those {len(expected)} chunks"
            )
        return place(state), done
    (run_dir / CHUNKS).mkdir(parents=True, exist_ok=True)
    checkpoint.mkdir(exist_ok=True)
    files.write_atomically(run_dir / DEFINITION, lambda f: f.write(files.json_text(definition.to_dict()).encode()))
    init = jax.jit(program.init, out_shardings=sharding)
    return [init(keys, h) for keys, h in zip(place(definition.lane_keys()), place(definition.hyperparams()))], 0


def check_free_space(run_dir: pathlib.Path, needed_bytes: int) -> None:
    """OSError (ENOSPC) before a checkpoint is written if the disk cannot hold it."""
    free = shutil.disk_usage(run_dir).free
    if free < needed_bytes:
        raise OSError(
            errno.ENOSPC,
            f"not enough free space for the next checkpoint: it needs "
            f"{needed_bytes / 1e6:.1f} MB, {free / 1e6:.1f} MB are free",
            str(run_dir),
        )


def _run_locked(definition, run_dir, resuming, execution, environments, lanes_per_call, keep_checkpoint, on_progress):
    config = definition.train_config(execution["matmul_precision"])
    n_lanes = len(definition.lanes())
    program = lanes.make_grid(config)
    sharding = lanes.lane_sharding(lanes_per_call, execution["devices"])

    def placed_blocks(tree):
        return [jax.device_put(block, sharding) for block in lanes.split_lanes(tree, lanes_per_call)]

    hparams = placed_blocks(definition.hyperparams())
    start = time.perf_counter()
    states, done = _restore_or_start(definition, run_dir, resuming, program, placed_blocks, sharding)
    # Chunks written after the last checkpoint are recomputed.
    for stale in (run_dir / CHUNKS).glob("chunk_*.npz"):
        if int(stale.stem.split("_")[1]) >= done:
            stale.unlink()
    # New blocks are written before the old ones are removed: the free space must hold one
    # more checkpoint (plus the chunk's metrics, small beside it).
    checkpoint_bytes = checkpoints.state_bytes(states) * 21 // 20 + 2**20
    if done < definition.episodes:
        check_free_space(run_dir, checkpoint_bytes)
    chunk = min(definition.chunk, definition.episodes)
    if done < definition.episodes:
        run_chunk = (
            jax.jit(program.run_chunk, donate_argnums=0)
            .lower(states[0], jnp.arange(chunk, dtype=jnp.int32), hparams[0])
            .compile()
        )
    compile_s = time.perf_counter() - start
    workers = min(execution["workers"] or lanes.default_workers(len(states)), len(states))
    record = provenance.environment_record(
        matmul_precision=config.matmul_precision,
        lanes_per_call=lanes_per_call,
        devices_per_call=sharding.mesh.size,
        workers=workers,
        activations=definition.activations(),
        first_episode=done,
    )
    changed = provenance.describe_differences(environments[-1], record) if environments else ""
    environments = [*environments, record]
    files.write_atomically(run_dir / ENVIRONMENT, lambda f: f.write(files.json_text(environments).encode()))
    run_start, first_done = time.perf_counter(), done

    def report(done, states):
        tracker = lanes.join_lanes([state.tracker for state in states])
        all_stopped = np.all(tracker.actor_first_unchanged != diagnostics.NEVER, axis=-1)
        on_progress(
            Progress(
                name=definition.name,
                lanes=n_lanes,
                variants=len(definition.variants),
                calls=len(states),
                lanes_per_call=lanes_per_call,
                episodes=definition.episodes,
                first_episode=first_done,
                episodes_done=done,
                lanes_all_stopped=int(all_stopped.sum()),
                compile_s=compile_s,
                elapsed_s=time.perf_counter() - run_start,
                environment=record,
                changed=changed,
            )
        )

    report(done, states)
    first_lanes = list(range(0, n_lanes, lanes_per_call))
    checkpoint = run_dir / CHECKPOINT
    pool = ThreadPoolExecutor(workers)
    try:
        while done < definition.episodes:
            n_real = min(chunk, definition.episodes - done)
            check_free_space(run_dir, checkpoint_bytes)

            def checkpoint_block(block, state, episodes_done=done + n_real):
                # on the block's worker thread, while other blocks compute
                checkpoints.save_block(checkpoint, first_lanes[block], state, episodes_done)

            episodes = jnp.arange(done, done + chunk, dtype=jnp.int32)
            states, metrics = lanes.run_blocks(pool, run_chunk, states, episodes, hparams, after_call=checkpoint_block)
            metrics = {name: values[:n_real] for name, values in metrics.items()}
            files.write_atomically(run_dir / CHUNKS / f"chunk_{done:06d}.npz", lambda f: np.savez(f, **metrics))
            done += n_real
            checkpoints.commit_checkpoint(checkpoint, first_lanes, done)
            report(done, states)
    finally:
        pool.shutdown(cancel_futures=True)
    finish(run_dir, definition, lanes.join_lanes([state.tracker for state in states]), environments)
    # The results are complete: what is left over if a deletion fails does no harm.
    shutil.rmtree(run_dir / CHUNKS, ignore_errors=True)  # joined into metrics.npz
    if not keep_checkpoint:
        shutil.rmtree(checkpoint, ignore_errors=True)
