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
import numpy as np

from jaxmadrl.core import files, signals
from jaxmadrl.core.limits import SettingError
from jaxmadrl.logs import live
from jaxmadrl.store import (
    checkpoints,
    execution,
    final_params,
    lane_blocks,
    loading,
    names,
    provenance,
    reporting,
    run_folder,
    shards,
)
from jaxmadrl.store.names import CHECKPOINT, CHUNKS
from jaxmadrl.store.progress import Progress
from jaxmadrl.store.run_folder import RunFolderError, is_complete, is_resumable
from jaxmadrl.store.shards import Shard
from jaxmadrl.study import grid, lane_axis
from jaxmadrl.study.definition import SweepDefinition


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
    log=None,
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
    ``keep_checkpoint``. ``log``: live logs written after every chunk, any of "csv",
    "tensorboard", "wandb" (``jaxmadrl.logs.live``; in ``RUN/logs/``; left at None, a resume
    keeps the logs the run has). ``on_progress`` gets a
    ``Progress`` after compiling and after every chunk.

    Raises SettingError (a bad setting), RunFolderError (the folder exists, is in use, is
    damaged or another sweep's; a shard that does not belong there) and OSError (the disk);
    a new run's folder is removed again if the run fails before its first checkpoint.
    """
    run_dir, shard = _checked_place(definition, out_dir), shards.as_shard(shard)
    given = execution.Execution(
        lanes_per_call=lanes_per_call,
        devices=devices,
        workers=workers,
        matmul_precision=matmul_precision,
        deterministic_ops=deterministic_ops,
        keep_checkpoint=keep_checkpoint,
        log=None if log is None else live.checked_kinds(log),
    )
    on_progress = on_progress or (lambda progress: None)
    if resume:
        definition = _recorded_definition(run_dir, definition)
        if is_complete(run_dir):
            return loading.load_run(run_dir)
        _refuse_resuming_a_sharded_sweep_whole(run_dir, shard)
    elif definition is None:
        raise SettingError("definition", "is required for a new run")
    if shard is not None:
        return _run_shard(definition, run_dir, shard, resume, given, on_progress)
    return _run_whole(definition, run_dir, resume, given, on_progress)


def _refuse_resuming_a_sharded_sweep_whole(run_dir: pathlib.Path, shard: Shard | None) -> None:
    if shard is None and shards.is_sharded(run_dir):
        plan = shards.read_plan(run_dir)
        raise RunFolderError(
            f"{run_dir} is a sweep split into {plan['shards']} shards: resume one of them (shard i/"
            f"{plan['shards']}) or merge them once all are done"
        )


def _run_whole(definition, run_dir, resume: bool, given: execution.Execution, on_progress) -> loading.Run:
    """Every lane of an unsharded run, created or resumed in ``run_dir``."""
    n_lanes = len(definition.lanes())
    environments = run_folder.recorded_environments(run_dir) if resume else []
    last = environments[-1] if environments else {}
    execution.request_determinism(given.deterministic_ops, last)
    chosen = execution.resolved(given, last, n_lanes)
    if not resume:
        _create(run_dir, definition)

    def write(metrics, params, rows, environments):
        run_folder.write_results(run_dir, definition, metrics, params, rows, environments)

    _run_lanes(definition, run_dir, range(n_lanes), resume, chosen, environments, write, None, on_progress)
    return loading.load_run(run_dir)


def _checked_place(definition, out_dir) -> pathlib.Path:
    """``out_dir`` as a path; SettingError if ``definition`` or ``out_dir`` is of the wrong kind."""
    if definition is not None and not isinstance(definition, SweepDefinition):
        raise SettingError(
            "definition",
            f"must be a SweepDefinition (SweepDefinition.from_dict makes one), got {type(definition).__name__}",
        )
    if not isinstance(out_dir, (str, pathlib.PurePath)):
        raise SettingError("out_dir", f"must be a path, got {type(out_dir).__name__}")
    return pathlib.Path(out_dir)


def _recorded_definition(run_dir: pathlib.Path, given: SweepDefinition | None) -> SweepDefinition:
    """The definition of the run to resume in ``run_dir`` (which ``given``, if any, must be)."""
    run_folder.check_own(run_dir)
    recorded = run_folder.read_definition(run_dir)
    if given is not None and given != recorded:
        raise RunFolderError(f"{run_dir} holds another sweep ({recorded.name}) than the one given")
    return recorded


def _create(run_dir: pathlib.Path, definition: SweepDefinition) -> None:
    """The new run folder with its definition, or nothing (RunFolderError if it exists)."""
    try:
        files.create_new_folder(run_dir)
    except FileExistsError:
        raise RunFolderError(f"{run_dir} already exists; choose a new folder")
    try:
        run_folder.write_definition(run_dir, definition)
    except OSError:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise


def merge_shards(out_dir) -> loading.Run:
    """Joins the finished shards of the sweep in ``out_dir`` into the results of an
    unsharded run and returns it (the shard that finishes last has done so already).
    RunFolderError naming every shard that is missing or unfinished."""
    shards.merge(pathlib.Path(out_dir))
    return loading.load_run(out_dir)


def _run_shard(definition, run_dir, shard, resume, given: execution.Execution, on_progress) -> loading.Run | None:
    """``run_sweep`` of one shard: its lanes in its folder, then the merge if it is the last."""
    part_dir = run_dir / shard.folder_name
    recorded = run_folder.recorded_environments(part_dir) if resume and part_dir.is_dir() else []
    execution.request_determinism(given.deterministic_ops, recorded[-1] if recorded else {})
    definition, plan = shards.join(
        definition,
        run_dir,
        shard,
        resume=resume,
        lanes_per_call=given.lanes_per_call,
        matmul_precision=given.matmul_precision,
    )
    if not run_folder.is_complete(part_dir):
        environments = run_folder.recorded_environments(part_dir)
        planned = dataclasses.replace(
            given, lanes_per_call=plan["lanes_per_call"], matmul_precision=plan["matmul_precision"]
        )
        chosen = execution.resolved(planned, environments[-1] if environments else {}, len(definition.lanes()))
        share = shard.lane_range(len(definition.lanes()), plan["lanes_per_call"])

        def write(metrics, params, rows, environments):
            shards.write_part(part_dir, shard, metrics, params, rows, environments)

        _run_lanes(definition, part_dir, share, resume, chosen, environments, write, shard, on_progress)
    if all(state == "done" for _, state in shards.shard_states(run_dir, plan)):
        shards.merge(run_dir)
        return loading.load_run(run_dir)
    return None


def _run_lanes(definition, folder, share: range, resuming, chosen, environments, write, shard, on_progress):
    """Runs the lanes ``share`` of ``definition`` in ``folder`` under its lock, then
    ``write(metrics, params, rows, environments)``; a new folder is removed again if this fails
    before its first checkpoint."""
    try:
        with run_folder.held(folder):
            _run_locked(definition, folder, share, chosen, environments, write, shard, on_progress)
    except Exception:
        if not resuming and not is_resumable(folder) and not is_complete(folder):
            shutil.rmtree(folder, ignore_errors=True)  # nothing computed is lost
        raise


def _restore_or_start(definition: SweepDefinition, share: range, folder: pathlib.Path, blocks: lane_blocks.Blocks):
    """(block states, episodes done, the digests of the metrics chunks so far): from the
    folder's checkpoint, verified, if it has one, else a new start of the lanes ``share``.
    Chunks written after the checkpoint are removed (they are recomputed)."""
    checkpoint = folder / CHECKPOINT
    keys, hparams = (
        definition.lane_keys()[share.start : share.stop],
        lane_blocks.lanes_of(definition.hyperparams(), share),
    )
    if not (checkpoint / names.CHECKPOINT_INDEX).is_file():
        (folder / CHUNKS).mkdir(parents=True, exist_ok=True)
        checkpoint.mkdir(exist_ok=True)
        for stale in (folder / CHUNKS).glob(names.CHUNK_GLOB):
            stale.unlink()
        init = jax.jit(blocks.program.init, out_shardings=blocks.sharding)
        return [init(k, h) for k, h in zip(blocks.place(keys), blocks.place(hparams))], 0, {}
    template = jax.eval_shape(blocks.program.init, keys, hparams)
    try:
        state, done, chunks = checkpoints.load_checkpoint(checkpoint, template, definition.digest())
    except ValueError as error:
        raise RunFolderError(f"cannot resume from {checkpoint}: {error}")
    if not 0 < done <= definition.episodes:
        raise RunFolderError(f"cannot resume from {checkpoint}: it says {done} of {definition.episodes} episodes")
    _check_chunks(folder, definition, done, chunks)
    for stale in (folder / CHUNKS).glob(names.CHUNK_GLOB):
        if stale.name not in chunks:
            stale.unlink()
    return blocks.place(state), done, chunks


def _check_chunks(folder: pathlib.Path, definition: SweepDefinition, done: int, chunks: dict[str, str]) -> None:
    """Every metrics chunk of the first ``done`` episodes is there, as the checkpoint
    recorded it (they cannot be recomputed from the checkpoint, and the results need all)."""
    expected = {names.chunk_file(first) for first in range(0, done, definition.chunk)}
    if set(chunks) != expected:
        raise RunFolderError(f"cannot resume from {folder / CHECKPOINT}: its record of the metrics chunks is wrong")
    for name, sha256 in sorted(chunks.items()):
        path = folder / CHUNKS / name
        if not path.is_file() or files.digest(path) != sha256:
            raise RunFolderError(
                f"cannot resume: {path} is {'damaged' if path.is_file() else 'missing'} (its episodes' metrics "
                "cannot be recomputed from the checkpoint); start the run anew"
            )


def _run_locked(definition, folder, share, chosen: execution.Execution, environments, write, shard, on_progress):
    """prepare → restore → compile → record the session → train chunk after chunk → finish."""
    config = definition.train_config(chosen.matmul_precision)
    blocks = lane_blocks.prepare(definition, config, share, chosen)
    start = time.perf_counter()
    states, done, chunks = _restore_or_start(definition, share, folder, blocks)
    if done < definition.episodes:
        run_folder.check_free_space(folder, _checkpoint_bytes(states))  # before it compiles
    if done == definition.episodes:
        run_chunk = None
    else:
        run_chunk = blocks.compiled_chunk or lane_blocks.compile_chunk(
            blocks, states[0], lane_blocks.clocks(definition, 0, definition.chunk)
        )
    compile_s = time.perf_counter() - start
    signals.raise_if_interrupted()
    workers = min(chosen.workers or grid.default_workers(len(states)), len(states))
    record = provenance.environment_record(
        matmul_precision=config.matmul_precision,
        lanes_per_call=blocks.lanes_per_call,
        devices_per_call=blocks.sharding.mesh.size,
        workers=workers,
        activations=definition.activations(),
        first_episode=done,
        shard=str(shard) if shard else None,
        memory=dataclasses.asdict(blocks.memory) if blocks.memory else None,
    )
    changed = provenance.describe_differences(environments[-1], record) if environments else ""
    environments = [*environments, record]
    run_folder.write_environments(folder, environments)
    kinds = live.kinds_found(folder / names.LOGS) if chosen.log is None else chosen.log
    logs = live.open_live_logs(kinds, reporting.log_place(definition, folder, share, shard))
    try:
        report = reporting.reporter(
            definition, share, shard, blocks.lanes_per_call, done, compile_s, record, changed, on_progress, logs
        )
        report(done, states)
        states = _train(definition, folder, blocks, run_chunk, states, done, chunks, workers, report)
    finally:
        logs.close()
    signals.raise_if_interrupted()
    metrics = run_folder.joined_chunk_metrics(folder)
    trackers = lane_axis.join_lanes([state.tracker for state in states])
    rows = run_folder.lane_rows(definition, share, trackers, metrics)
    write(metrics, final_params.final_params(states), rows, environments)
    # The results are complete: what is left over if a deletion fails does no harm.
    shutil.rmtree(folder / CHUNKS, ignore_errors=True)  # joined into metrics.npz
    if not chosen.keep_checkpoint:
        shutil.rmtree(folder / CHECKPOINT, ignore_errors=True)


def _checkpoint_bytes(states) -> int:
    """The free space a checkpoint needs: new blocks are written before the old ones are
    removed, so it must hold one more checkpoint (plus the chunk's metrics, small beside it)."""
    return checkpoints.state_bytes(states) * 21 // 20 + 2**20


def _train(definition, folder, blocks: lane_blocks.Blocks, run_chunk, states, done, chunks, workers, report):
    """Chunks of episodes until the run is done, each followed by its metrics file and a
    checkpoint whose index records the digests of both; returns the final block states."""
    chunk = definition.chunk
    checkpoint, definition_digest = folder / CHECKPOINT, definition.digest()
    checkpoint_bytes = _checkpoint_bytes(states)
    chunks = dict(chunks)
    pool = ThreadPoolExecutor(workers)
    try:
        while done < definition.episodes:
            n_real = min(chunk, definition.episodes - done)
            run_folder.check_free_space(folder, checkpoint_bytes)
            saved = {}

            def checkpoint_block(block, state, episodes_done=done + n_real):
                # on the block's worker thread, while other blocks compute
                first = blocks.first_lanes[block]
                saved[first] = checkpoints.save_block(checkpoint, first, state, episodes_done)

            states, metrics = grid.run_blocks(
                pool,
                run_chunk,
                states,
                lane_blocks.clocks(definition, done, chunk),
                blocks.hparams,
                after_call=checkpoint_block,
            )
            metrics = {name: values[:n_real] for name, values in metrics.items()}
            path = folder / CHUNKS / names.chunk_file(done)
            files.write_atomically(path, lambda f: np.savez(f, **metrics))
            chunks[path.name] = files.digest(path)
            done += n_real
            checkpoints.commit_checkpoint(checkpoint, saved, done, definition_digest, chunks)
            signals.raise_if_interrupted()
            report(done, states, metrics)
    finally:
        pool.shutdown(cancel_futures=True)
    return states
