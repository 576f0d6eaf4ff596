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

Every lane runs the same compiled chunk program (vmapped over lanes), called on blocks of
``lanes_per_call`` lanes. Programs of different widths round differently, and training
amplifies rounding, so a resume keeps the recorded width, devices per call, matmul
precision and GPU determinism unless asked otherwise (it then says that the results will
no longer equal an uninterrupted run).
"""
from __future__ import annotations

import dataclasses
import errno
import json
import pathlib
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np

from jaxmadrl import diagnostics, files, grid, provenance, results
from jaxmadrl.limits import SettingError

CHECKPOINT, DEFINITION, CHUNKS, ENVIRONMENT = "checkpoint", "sweep.json", "metrics", "environment.json"


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked: it exists, another process holds it, or
    it is damaged or another sweep's."""


@dataclasses.dataclass(frozen=True)
class Execution:
    """How a run computes its lanes (not what): ``lanes_per_call`` (None = the backend's
    default), at most ``devices`` devices per call (None = all), ``workers`` host threads
    (None = one per CPU), the matmul precision and GPU determinism (None: leave XLA_FLAGS
    as it is)."""

    lanes_per_call: int | None
    devices: int | None
    workers: int | None
    matmul_precision: str
    deterministic_ops: bool | None  # None: as XLA_FLAGS says


def read_definition(run_dir: pathlib.Path) -> grid.SweepDefinition:
    """The definition of the run in ``run_dir`` (RunFolderError if there is none or it is bad)."""
    if not (run_dir / DEFINITION).is_file():
        raise RunFolderError(f"{run_dir} is not a sweep run (no {DEFINITION})")
    if (run_dir / "checkpoint.npz").is_file():
        raise RunFolderError(f"{run_dir} has a checkpoint of an older format (checkpoint.npz); "
                             "this version cannot resume it")
    try:
        return grid.SweepDefinition.from_dict(json.loads((run_dir / DEFINITION).read_text()))
    except SettingError as error:
        raise RunFolderError(f'{run_dir / DEFINITION} is not a valid sweep definition: "{error.setting}" '
                             f"{error.problem}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
        raise RunFolderError(f"{run_dir / DEFINITION} is not a valid sweep definition: {error}") from None


def is_complete(run_dir: pathlib.Path) -> bool:
    return (run_dir / "summary.json").is_file()


def is_resumable(run_dir: pathlib.Path) -> bool:
    return (run_dir / CHECKPOINT / grid.CHECKPOINT_INDEX).is_file()


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


def finish(run_dir: pathlib.Path, definition: grid.SweepDefinition, trackers, environments: list[dict]) -> list[dict]:
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
        rows.append({"lane": index, **lane._asdict(),
                     **results.lane_summary(tracker, lane_metrics, definition.episodes)})
    table = results.stopping_tables(rows, definition.episodes)
    files.write_atomically(run_dir / "summary.csv", lambda f: f.write(results.summaries_csv(rows).encode()))
    files.write_atomically(run_dir / "table.txt", lambda f: f.write((table + "\n").encode()))
    files.write_atomically(run_dir / "summary.json", lambda f: f.write(files.json_text(
        {"definition": dataclasses.asdict(definition), "environment": environments, "lanes": rows}).encode()))
    return rows


def run(definition: grid.SweepDefinition, run_dir: pathlib.Path, resuming: bool, execution: Execution,
        environments: list[dict], keep_checkpoint: bool = False) -> None:
    """Runs (or, ``resuming``, continues) a sweep in ``run_dir`` while holding its lock;
    ``environments``: the records of the run's earlier sessions. A new run's folder is
    created here, exclusively, and removed again if the run fails before its first
    checkpoint. The checkpoint and the per-chunk metrics are deleted once the results are
    written, unless ``keep_checkpoint``."""
    lanes_per_call = execution.lanes_per_call or grid.default_lanes_per_call(len(definition.lanes()))
    try:
        grid.check_lanes_per_call(len(definition.lanes()), lanes_per_call)
    except ValueError as error:
        raise SettingError("lanes_per_call", str(error).removeprefix("lanes per call ")) from None
    if not resuming:
        try:
            files.create_new_folder(run_dir)
        except FileExistsError:
            raise RunFolderError(f"{run_dir} already exists; choose a new folder")
    try:
        with files.locked(run_dir):
            _run_locked(definition, run_dir, resuming, execution, environments, lanes_per_call, keep_checkpoint)
    except files.FolderInUse as error:
        raise RunFolderError(f"{error} (another sweep or resume); wait for it to end")
    except Exception:
        if not resuming and not is_resumable(run_dir) and not is_complete(run_dir):
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing computed is lost
        raise


def _restore_or_start(definition, run_dir, resuming, program, place, sharding):
    """(block states, episodes done): from the checkpoint when resuming one, else a new start
    (writing the definition)."""
    checkpoint = run_dir / CHECKPOINT
    if resuming and (checkpoint / grid.CHECKPOINT_INDEX).is_file():
        template = jax.eval_shape(program.init, definition.lane_keys(), definition.hyperparams())
        try:
            state, done = grid.load_checkpoint(checkpoint, template)
        except ValueError as error:
            raise RunFolderError(f"cannot resume from {checkpoint}: {error}")
        chunks = {int(p.stem.split("_")[1]) for p in (run_dir / CHUNKS).glob("chunk_*.npz")}
        expected = set(range(0, done, definition.chunk))
        if not 0 < done <= definition.episodes or not expected <= chunks:
            raise RunFolderError(f"cannot resume from {checkpoint}: it says {done} of {definition.episodes} "
                                   f"episodes are done, but {CHUNKS}/ holds the metrics of "
                                   f"{len(expected & chunks)} of those {len(expected)} chunks")
        return place(state), done
    (run_dir / CHUNKS).mkdir(parents=True, exist_ok=True)
    checkpoint.mkdir(exist_ok=True)
    files.write_atomically(run_dir / DEFINITION, lambda f: f.write(files.json_text(
        dataclasses.asdict(definition)).encode()))
    init = jax.jit(program.init, out_shardings=sharding)
    return [init(keys, h) for keys, h in zip(place(definition.lane_keys()), place(definition.hyperparams()))], 0


def check_free_space(run_dir: pathlib.Path, needed_bytes: int) -> None:
    """OSError (ENOSPC) before a checkpoint is written if the disk cannot hold it."""
    free = shutil.disk_usage(run_dir).free
    if free < needed_bytes:
        raise OSError(errno.ENOSPC, f"not enough free space for the next checkpoint: it needs "
                                    f"{needed_bytes / 1e6:.1f} MB, {free / 1e6:.1f} MB are free", str(run_dir))


def _run_locked(definition, run_dir, resuming, execution, environments, lanes_per_call, keep_checkpoint):
    config = definition.train_config(execution.matmul_precision)
    lanes = definition.lanes()
    program = grid.make_grid(config)
    sharding = grid.lane_sharding(lanes_per_call, execution.devices)

    def placed_blocks(tree):
        return [jax.device_put(block, sharding) for block in grid.split_lanes(tree, lanes_per_call)]

    hparams = placed_blocks(definition.hyperparams())
    start = time.perf_counter()
    states, done = _restore_or_start(definition, run_dir, resuming, program, placed_blocks, sharding)
    # Chunks written after the last checkpoint are recomputed.
    for stale in (run_dir / CHUNKS).glob("chunk_*.npz"):
        if int(stale.stem.split("_")[1]) >= done:
            stale.unlink()
    # New blocks are written before the old ones are removed: the free space must hold one
    # more checkpoint (plus the chunk's metrics, small beside it).
    checkpoint_bytes = grid.state_bytes(states) * 21 // 20 + 2**20
    if done < definition.episodes:
        check_free_space(run_dir, checkpoint_bytes)
    chunk = min(definition.chunk, definition.episodes)
    if done < definition.episodes:
        run_chunk = jax.jit(program.run_chunk, donate_argnums=0).lower(
            states[0], jnp.arange(chunk, dtype=jnp.int32), hparams[0]).compile()
    compile_s = time.perf_counter() - start
    workers = min(execution.workers or grid.default_workers(len(states)), len(states))
    record = provenance.environment_record(
        matmul_precision=config.matmul_precision, lanes_per_call=lanes_per_call,
        devices_per_call=sharding.mesh.size, workers=workers, activations=definition.activations(),
        first_episode=done)
    if environments and done < definition.episodes:
        changed = provenance.describe_differences(environments[-1], record)
        if changed:
            print(f"note: this session differs from the run's record in {changed}: results from episode {done} "
                  "on will not equal an uninterrupted run", flush=True)
    environments = [*environments, record]
    files.write_atomically(run_dir / ENVIRONMENT, lambda f: f.write(files.json_text(environments).encode()))
    print(f"{definition.name}: {len(lanes)} lanes ({len(definition.variants)} variant(s)) as {len(states)} "
          f"call(s) of {lanes_per_call} lane(s), {workers} at a time, on {sharding.mesh.size} device(s); "
          f"{definition.episodes} episodes; compiled in {compile_s:.1f} s; starting at episode {done}", flush=True)
    print(f"{provenance.numerics_line(record)}; recorded in {ENVIRONMENT}", flush=True)
    run_start, first_done = time.perf_counter(), done
    first_lanes = list(range(0, len(lanes), lanes_per_call))
    checkpoint = run_dir / CHECKPOINT
    pool = ThreadPoolExecutor(workers)
    try:
        while done < definition.episodes:
            n_real = min(chunk, definition.episodes - done)
            check_free_space(run_dir, checkpoint_bytes)

            def checkpoint_block(block, state, episodes_done=done + n_real):
                # on the block's worker thread, while other blocks compute
                grid.save_block(checkpoint, first_lanes[block], state, episodes_done)

            episodes = jnp.arange(done, done + chunk, dtype=jnp.int32)
            states, metrics = grid.run_blocks(pool, run_chunk, states, episodes, hparams,
                                              after_call=checkpoint_block)
            metrics = {name: values[:n_real] for name, values in metrics.items()}
            files.write_atomically(run_dir / CHUNKS / f"chunk_{done:06d}.npz", lambda f: np.savez(f, **metrics))
            done += n_real
            grid.commit_checkpoint(checkpoint, first_lanes, done)
            elapsed = time.perf_counter() - run_start
            rate = (done - first_done) * len(lanes) / elapsed
            tracker = grid.join_lanes([state.tracker for state in states])
            all_stopped = np.all(tracker.actor_first_unchanged != diagnostics.NEVER, axis=-1)
            print(f"[{done}/{definition.episodes}] {rate:.1f} config-episodes/s | "
                  f"ETA {(definition.episodes - done) * len(lanes) / rate:.0f} s | "
                  f"lanes with all actors stopped: {int(all_stopped.sum())}/{len(lanes)}", flush=True)
    finally:
        pool.shutdown(cancel_futures=True)
    rows = finish(run_dir, definition, grid.join_lanes([state.tracker for state in states]), environments)
    # The results are complete: what is left over if a deletion fails does no harm.
    shutil.rmtree(run_dir / CHUNKS, ignore_errors=True)  # joined into metrics.npz
    if not keep_checkpoint:
        shutil.rmtree(checkpoint, ignore_errors=True)
    wall_s = time.perf_counter() - start
    print(f"done in {wall_s:.1f} s (compile {compile_s:.1f} s). All-actors stopping episode "
          f"({definition.episodes} = never stopped):")
    print(results.stopping_tables(rows, definition.episodes))
    diverged = [r["lane"] for r in rows if r["diverged"]]
    if diverged:
        print(f"diverged lanes (non-finite values): {diverged}")
    kept = f"; final state kept in {checkpoint}" if keep_checkpoint else ""
    print(f"results in {run_dir}{kept}")
