"""Running a sweep in a run folder (``run_folder``): created exclusively, held under a lock,
checkpointed after every chunk of episodes, resumable, and finished into results — or one
shard of it (``shards``), in a folder that all the shards of the sweep share.

``run_sweep`` is the way in, from Python or a command line. Every lane runs the same
compiled chunk program (vmapped over lanes), called on blocks of ``lanes_per_call``
lanes. Programs of different widths round differently, and training amplifies rounding,
so a resume keeps the recorded width, devices per call, matmul precision and GPU
determinism unless asked otherwise (it then reports that results from there on will no
longer equal an uninterrupted run). When a run completes, its per-chunk metrics and,
unless asked to keep it, its checkpoint are deleted.
"""

from __future__ import annotations

import dataclasses
import pathlib
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxmadrl.agents import diagnostics
from jaxmadrl.core import files, numerics, signals, xla_flags
from jaxmadrl.core.limits import SettingError, check_integer
from jaxmadrl.store import checkpoints, loading, provenance, run_folder, shards
from jaxmadrl.store.run_folder import CHECKPOINT, CHUNKS, RunFolderError, is_complete, is_resumable
from jaxmadrl.store.shards import Shard
from jaxmadrl.study import lanes
from jaxmadrl.study.definition import SweepDefinition


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where a running sweep stands: reported once after compiling (``episodes_done ==
    first_episode``) and after every chunk. ``environment``: this session's record;
    ``changed``: the numerics in which it differs from the run's previous session ("" if
    none; results from ``first_episode`` on then differ from an uninterrupted run).
    ``lanes``: the lanes this call runs (a shard's share, if ``shard`` "i/n" is given)."""

    name: str
    shard: str
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
    shard: Shard | str | None = None,
    lanes_per_call: int | None = None,
    devices: int | None = None,
    workers: int | None = None,
    matmul_precision: str | None = None,
    deterministic_ops: bool | None = None,
    keep_checkpoint: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
) -> loading.Run | None:
    """Runs ``definition`` in the new folder ``out_dir`` — or, with ``resume``, continues the
    run there from its last checkpoint (``definition`` None, or the run's own) — and
    returns the finished run (``loading.load_run``).

    With ``shard`` (a ``Shard`` or "i/n") it runs only that shard's share of the lanes,
    in ``out_dir/shard-<i>-of-<n>/``; every shard of the sweep is given the same
    ``out_dir`` (``shards``). It returns the finished run if every shard is done then (the
    last one merges them), else None.

    How it computes, not what: ``lanes_per_call`` lanes per call of the compiled program
    (default: 1 on the CPU, all elsewhere; for shards, the first shard's choice), at most
    ``devices`` devices per call, ``workers`` calls at once on host threads (default: one
    per CPU), ``matmul_precision`` and deterministic GPU ops (which must be chosen before
    JAX starts a backend). Left at None, a resume keeps what the run recorded, so that it
    computes as the run did. The final state is kept in the run's ``checkpoint/`` if
    ``keep_checkpoint``. ``on_progress`` gets a ``Progress`` after compiling and after
    every chunk.

    Raises SettingError (a bad setting), RunFolderError (the folder exists, is in use, is
    damaged or another sweep's; a shard that does not belong there) and OSError (the disk);
    a new run's folder is removed again if the run fails before its first checkpoint.
    """
    run_dir = pathlib.Path(out_dir)
    shard = shards.as_shard(shard)
    given = dict(
        lanes_per_call=lanes_per_call,
        devices=devices,
        workers=workers,
        matmul_precision=matmul_precision,
    )  # the execution settings; the GPU determinism is requested apart, before a backend starts
    if resume:
        recorded = run_folder.read_definition(run_dir)
        if definition is not None and definition != recorded:
            raise RunFolderError(f"{run_dir} holds another sweep ({recorded.name}) than the one given")
        definition = recorded
        if is_complete(run_dir):
            return loading.load_run(run_dir)
        if shard is None and shards.is_sharded(run_dir):
            plan = shards.read_plan(run_dir)
            raise RunFolderError(
                f"{run_dir} is a sweep split into {plan['shards']} shards: resume one of them (shard i/"
                f"{plan['shards']}) or merge them once all are done"
            )
    elif definition is None:
        raise SettingError("definition", "is required for a new run")
    part = dict(keep_checkpoint=keep_checkpoint, on_progress=on_progress or (lambda progress: None))
    if shard is not None:
        return _run_shard(definition, run_dir, shard, resume, given, deterministic_ops, **part)
    n_lanes = len(definition.lanes())
    environments = run_folder.recorded_environments(run_dir) if resume else []
    _request_determinism(deterministic_ops, environments[-1] if environments else {})
    execution = _execution(environments[-1] if environments else {}, n_lanes, **given)
    if not resume:
        try:
            files.create_new_folder(run_dir)
        except FileExistsError:
            raise RunFolderError(f"{run_dir} already exists; choose a new folder")
        try:
            run_folder.write_definition(run_dir, definition)
        except OSError:
            shutil.rmtree(run_dir, ignore_errors=True)
            raise

    def write(metrics, rows, environments):
        run_folder.write_results(run_dir, definition, metrics, rows, environments)

    _run_lanes(definition, run_dir, range(n_lanes), resume, execution, environments, write=write, **part)
    return loading.load_run(run_dir)


def merge_shards(out_dir) -> loading.Run:
    """Joins the finished shards of the sweep in ``out_dir`` into the results of an
    unsharded run and returns it (the shard that finishes last has done so already).
    RunFolderError naming every shard that is missing or unfinished."""
    shards.merge(pathlib.Path(out_dir))
    return loading.load_run(out_dir)


def _run_shard(definition, run_dir, shard, resume, given, deterministic_ops, **part) -> loading.Run | None:
    """``run_sweep`` of one shard: its lanes in its folder, then the merge if it is the last."""
    part_dir = run_dir / shard.folder_name
    recorded = run_folder.recorded_environments(part_dir) if resume and part_dir.is_dir() else []
    _request_determinism(deterministic_ops, recorded[-1] if recorded else {})
    definition, plan = shards.join(
        definition,
        run_dir,
        shard,
        resume=resume,
        lanes_per_call=given["lanes_per_call"],
        matmul_precision=given["matmul_precision"],
    )
    if not run_folder.is_complete(part_dir):
        environments = run_folder.recorded_environments(part_dir)
        chosen = {**given, "lanes_per_call": plan["lanes_per_call"], "matmul_precision": plan["matmul_precision"]}
        execution = _execution(environments[-1] if environments else {}, len(definition.lanes()), **chosen)
        share = shard.lanes(len(definition.lanes()), plan["lanes_per_call"])

        def write(metrics, rows, environments):
            shards.write_part(part_dir, shard, metrics, rows, environments)

        _run_lanes(definition, part_dir, share, resume, execution, environments, write=write, shard=shard, **part)
    if all(state == "done" for _, state in shards.shard_states(run_dir, plan)):
        shards.merge(run_dir)
        return loading.load_run(run_dir)
    return None


# Settings that change how lanes round, and the field of the environment record that holds
# each: left at None, a resume takes the recorded value.
RECORDED_EXECUTION = {
    "lanes_per_call": "lanes_per_call",
    "devices": "devices_per_call",
    "matmul_precision": "matmul_precision",
}
RECORDED_DETERMINISM = "deterministic_gpu_ops"


def _request_determinism(given: bool | None, recorded: dict) -> None:
    """Asks for the given GPU determinism, else the recorded one; before anything starts a
    backend (e.g. the default lane width, which depends on it)."""
    chosen = given if given is not None else recorded.get(RECORDED_DETERMINISM)
    if chosen is not None:
        try:
            xla_flags.request_deterministic_gpu_ops(chosen)
        except RuntimeError as error:
            raise SettingError("deterministic_ops", f"cannot be changed now: {error}") from None


def _execution(recorded: dict, n_lanes: int, **given) -> dict:
    """The execution settings of a run of ``n_lanes`` lanes: each given value, else the
    recorded one (the recorded devices per call only with the recorded lanes per call),
    else the default."""
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
    chosen["lanes_per_call"] = chosen["lanes_per_call"] or lanes.default_lanes_per_call(n_lanes)
    lanes.check_lanes_per_call(n_lanes, chosen["lanes_per_call"])
    return chosen


def _run_lanes(definition, folder, share: range, resuming, execution, environments, *, write, shard=None, **part):
    """Runs the lanes ``share`` of ``definition`` in ``folder`` under its lock, then
    ``write(metrics, rows, environments)``; a new folder is removed again if this fails
    before its first checkpoint."""
    try:
        with files.locked(folder):
            _run_locked(definition, folder, share, resuming, execution, environments, write, shard, **part)
    except files.FolderInUse as error:
        raise RunFolderError(f"{error} (another sweep or resume); wait for it to end")
    except Exception:
        if not resuming and not is_resumable(folder) and not is_complete(folder):
            shutil.rmtree(folder, ignore_errors=True)  # nothing computed is lost
        raise


def _restore_or_start(definition, share, folder, program, place, sharding):
    """(block states, episodes done): from the folder's checkpoint if it has one, else a new
    start of the lanes ``share``."""
    checkpoint = folder / CHECKPOINT
    keys, hparams = definition.lane_keys()[share.start : share.stop], _lanes_of(definition.hyperparams(), share)
    if (checkpoint / checkpoints.CHECKPOINT_INDEX).is_file():
        template = jax.eval_shape(program.init, keys, hparams)
        try:
            state, done = checkpoints.load_checkpoint(checkpoint, template)
        except ValueError as error:
            raise RunFolderError(f"cannot resume from {checkpoint}: {error}")
        chunks = {int(p.stem.split("_")[1]) for p in (folder / CHUNKS).glob("chunk_*.npz")}
        expected = set(range(0, done, definition.chunk))
        if not 0 < done <= definition.episodes or not expected <= chunks:
            raise RunFolderError(
                f"cannot resume from {checkpoint}: it says {done} of {definition.episodes} "
                f"episodes are done, but {CHUNKS}/ holds the metrics of "
                f"{len(expected & chunks)} of those {len(expected)} chunks"
            )
        return place(state), done
    (folder / CHUNKS).mkdir(parents=True, exist_ok=True)
    checkpoint.mkdir(exist_ok=True)
    init = jax.jit(program.init, out_shardings=sharding)
    return [init(k, h) for k, h in zip(place(keys), place(hparams))], 0


def _lanes_of(tree, share: range):
    return jax.tree.map(lambda x: x[share.start : share.stop], tree)


def _run_locked(definition, folder, share, resuming, execution, environments, write, shard, **part):
    keep_checkpoint, on_progress = part["keep_checkpoint"], part["on_progress"]
    config = definition.train_config(execution["matmul_precision"])
    lanes_per_call = execution["lanes_per_call"]
    program = lanes.make_grid(config)
    sharding = lanes.lane_sharding(lanes_per_call, execution["devices"])

    def placed_blocks(tree):
        return [jax.device_put(block, sharding) for block in lanes.split_lanes(tree, lanes_per_call)]

    hparams = placed_blocks(_lanes_of(definition.hyperparams(), share))
    start = time.perf_counter()
    states, done = _restore_or_start(definition, share, folder, program, placed_blocks, sharding)
    # Chunks written after the last checkpoint are recomputed.
    for stale in (folder / CHUNKS).glob("chunk_*.npz"):
        if int(stale.stem.split("_")[1]) >= done:
            stale.unlink()
    # New blocks are written before the old ones are removed: the free space must hold one
    # more checkpoint (plus the chunk's metrics, small beside it).
    checkpoint_bytes = checkpoints.state_bytes(states) * 21 // 20 + 2**20
    if done < definition.episodes:
        run_folder.check_free_space(folder, checkpoint_bytes)
    chunk = min(definition.chunk, definition.episodes)
    if done < definition.episodes:
        run_chunk = (
            jax.jit(program.run_chunk, donate_argnums=0)
            .lower(states[0], jnp.arange(chunk, dtype=jnp.int32), hparams[0])
            .compile()
        )
    compile_s = time.perf_counter() - start
    signals.raise_if_interrupted()
    workers = min(execution["workers"] or lanes.default_workers(len(states)), len(states))
    record = provenance.environment_record(
        matmul_precision=config.matmul_precision,
        lanes_per_call=lanes_per_call,
        devices_per_call=sharding.mesh.size,
        workers=workers,
        activations=definition.activations(),
        first_episode=done,
        shard=str(shard) if shard else None,
    )
    changed = provenance.describe_differences(environments[-1], record) if environments else ""
    environments = [*environments, record]
    run_folder.write_environments(folder, environments)
    run_start, first_done = time.perf_counter(), done

    def report(done, states):
        tracker = lanes.join_lanes([state.tracker for state in states])
        all_stopped = np.all(tracker.actor_first_unchanged != diagnostics.NEVER, axis=-1)
        on_progress(
            Progress(
                name=definition.name,
                shard=str(shard) if shard else "",
                lanes=len(share),
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
    first_lanes = list(range(share.start, share.stop, lanes_per_call))
    checkpoint = folder / CHECKPOINT
    pool = ThreadPoolExecutor(workers)
    try:
        while done < definition.episodes:
            n_real = min(chunk, definition.episodes - done)
            run_folder.check_free_space(folder, checkpoint_bytes)

            def checkpoint_block(block, state, episodes_done=done + n_real):
                # on the block's worker thread, while other blocks compute
                checkpoints.save_block(checkpoint, first_lanes[block], state, episodes_done)

            episodes = jnp.arange(done, done + chunk, dtype=jnp.int32)
            states, metrics = lanes.run_blocks(pool, run_chunk, states, episodes, hparams, after_call=checkpoint_block)
            metrics = {name: values[:n_real] for name, values in metrics.items()}
            files.write_atomically(folder / CHUNKS / f"chunk_{done:06d}.npz", lambda f: np.savez(f, **metrics))
            done += n_real
            checkpoints.commit_checkpoint(checkpoint, first_lanes, done)
            signals.raise_if_interrupted()
            report(done, states)
    finally:
        pool.shutdown(cancel_futures=True)
    signals.raise_if_interrupted()
    metrics = run_folder.joined_chunk_metrics(folder)
    trackers = lanes.join_lanes([state.tracker for state in states])
    write(metrics, run_folder.lane_rows(definition, share, trackers, metrics), environments)
    # The results are complete: what is left over if a deletion fails does no harm.
    shutil.rmtree(folder / CHUNKS, ignore_errors=True)  # joined into metrics.npz
    if not keep_checkpoint:
        shutil.rmtree(checkpoint, ignore_errors=True)
