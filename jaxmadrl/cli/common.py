"""What the command-line programs share: the flags that describe one training program and
a run folder, running one as a command, and bad input, full disks and signals as one line
and an exit code."""

from __future__ import annotations

import dataclasses
import pathlib
import time

from absl import flags

from jaxmadrl.cli import failing
from jaxmadrl.core import files, signals
from jaxmadrl.core.limits import SettingError
from jaxmadrl.store import execution, names, provenance, run_folder, runs, shards
from jaxmadrl.store.progress import Progress
from jaxmadrl.study import memory_fit, results, settings
from jaxmadrl.study.definition import SweepDefinition


def define_setting_flags(command_flags: flags.FlagValues) -> None:
    """One flag in ``command_flags`` per setting of the training program and per traced
    setting (``settings``), named and described as the field it sets, defaulting to the
    field's default."""
    for setting in settings.ALL.values():
        kind, default, help = setting.kind, setting.default, as_sentence(setting.help)
        if kind == "widths":
            flags.DEFINE_list(setting.name, [str(w) for w in default], help, flag_values=command_flags)
        elif kind == "choice":
            shown = setting.choices[default] if isinstance(default, int) else default
            flags.DEFINE_enum(setting.name, shown, list(setting.choices), help, flag_values=command_flags)
        elif kind == "switch":
            flags.DEFINE_bool(setting.name, bool(default), help, flag_values=command_flags)
        elif kind == "int":
            flags.DEFINE_integer(setting.name, default, help, flag_values=command_flags)
        elif kind == "float":
            flags.DEFINE_float(setting.name, default, help, flag_values=command_flags)
        else:
            flags.DEFINE_string(setting.name, default, help, flag_values=command_flags)


def define_execution_flags(command_flags: flags.FlagValues, names: tuple[str, ...] = execution.NAMES) -> None:
    """One flag in ``command_flags`` per execution setting in ``names``
    (``execution.Execution``), named and described as its field; left out, the setting is
    the field's default (None: the run's recorded value on a resume, else the default the
    help names)."""
    for field in dataclasses.fields(execution.Execution):
        if field.name not in names:
            continue
        help, choices = as_sentence(field.metadata["help"]), field.metadata["choices"]
        if choices:
            flags.DEFINE_enum(field.name, field.default, list(choices), help, flag_values=command_flags)
        elif field.type in ("bool", "bool | None"):
            flags.DEFINE_bool(field.name, field.default, help, flag_values=command_flags)
        elif field.type.startswith("tuple"):
            flags.DEFINE_list(field.name, field.default, help, flag_values=command_flags)
        else:
            flags.DEFINE_integer(field.name, field.default, help, flag_values=command_flags)


def given_execution(command_flags: flags.FlagValues) -> dict:
    """The execution settings given on the command line, by name (as ``run_sweep`` takes them)."""
    return {name: command_flags[name].value for name in execution.NAMES if name in command_flags}


def as_sentence(help: str) -> str:
    """A field's help as a flag's: capitalised, with a full stop."""
    return help[0].upper() + help[1:] + "."


def given_settings(command_flags: flags.FlagValues) -> tuple[dict, dict]:
    """The settings given on the command line: (static settings by name, traced settings by
    name), as a definition holds them. UsageFailure naming the flag of a malformed value."""
    static, traced = {}, {}
    for name, setting in settings.ALL.items():
        if not command_flags[name].present:
            continue
        value = command_flags[name].value
        if setting.kind == "widths":
            value = failing.widths(command_flags, name)
        elif setting.kind == "switch":
            value = float(value) if setting.holder == "traced" else bool(value)
        (traced if setting.holder == "traced" else static)[name] = value
    return static, traced


def define_run_flags(
    command_flags: flags.FlagValues, default_out: str, execution_names: tuple[str, ...] = execution.NAMES
) -> None:
    """Flags in ``command_flags`` of a command that writes a run folder (``runs``): where,
    how many episodes a compiled call takes, and the execution settings ``execution_names``."""
    flags.DEFINE_string("out", None, f"New run folder (default {default_out}).", flag_values=command_flags)
    flags.DEFINE_string(
        "resume", None, "Continue the run in this folder from its last checkpoint.", flag_values=command_flags
    )
    flags.DEFINE_integer(
        "chunk",
        SweepDefinition.__dataclass_fields__["chunk"].default,
        "Episodes per compiled call: one progress line and checkpoint each.",
        flag_values=command_flags,
    )
    define_execution_flags(command_flags, execution_names)


def run_command(
    module: str, command_flags: flags.FlagValues, definition, run_dir: pathlib.Path, resuming: bool, shard=None
) -> None:
    """Runs (or resumes) ``definition`` — or its shard ``shard`` — in ``run_dir`` as the
    command ``python -m module``, with the execution settings its ``command_flags`` give,
    printing progress: a complete run shows its table; a bad setting or unusable folder is
    one line and exit 2;
    a disk that cannot be written one line and exit 1 (naming the resume command if a
    checkpoint is intact); Ctrl-C and SIGTERM one line and exit 130 / 143."""
    if resuming and run_folder.is_complete(run_dir):
        print_complete(run_dir)
        return
    started = time.perf_counter()
    resume_command = f"python -m {module} --resume {run_dir}" + (f" --shard {shard}" if shard else "")
    try:
        run = runs.run_sweep(
            None if resuming else definition,
            run_dir,
            resume=resuming,
            shard=shard,
            on_progress=print_progress,
            **given_execution(command_flags),
        )
        signals.raise_if_interrupted()  # a signal whose exception was discarded still ends the run
    except SettingError as error:
        failing.fail(f"--{error.setting} {error.problem}")
    except run_folder.RunFolderError as error:
        failing.fail(str(error))
    except OSError as error:
        part = run_dir / shard.folder_name if shard else run_dir
        resume = f"; the last checkpoint is intact: {resume_command}"
        failing.fail(
            f"cannot write the run: {files.io_error_text(error)}" + (resume if run_folder.is_resumable(part) else ""),
            failing.IO_EXIT_CODE,
        )
    except KeyboardInterrupt as interrupt:
        signals.exit_interrupted(interrupt, f"continue with: {resume_command}")
    wall_s = time.perf_counter() - started
    if run is None:
        print_waiting(run_dir, shard, module, wall_s)
    else:
        print_result(run, run_dir, wall_s)


def print_complete(run_dir: pathlib.Path) -> None:
    try:
        print(f"{run_dir} is complete:\n{(run_dir / 'table.txt').read_text()}", end="")
    except OSError as error:
        failing.fail(files.io_error_text(error))


def print_waiting(run_dir: pathlib.Path, shard, module: str, wall_s: float) -> None:
    """What a finished shard says while other shards of its sweep are not done."""
    waiting = [
        f"shard {other} ({state})"
        for other, state in shards.shard_states(run_dir, shards.read_plan(run_dir))
        if state != "done"
    ]
    print(
        f"shard {shard} done in {wall_s:.1f} s; not done yet: {', '.join(waiting)}. The shard that finishes last "
        f"merges them into {run_dir} (or: python -m {module} --merge {run_dir})"
    )


def print_progress(progress: Progress) -> None:
    """A sweep's progress as a log: after compiling, what runs how; then a line per chunk."""
    if progress.episodes_done == progress.first_episode:
        if progress.changed:
            print(
                f"note: this session differs from the run's record in {progress.changed}: results from episode "
                f"{progress.first_episode} on will not equal an uninterrupted run",
                flush=True,
            )
        record = progress.environment
        shard = f" shard {progress.shard}" if progress.shard else ""
        print(
            f"{progress.name}{shard}: {progress.lanes} lanes ({progress.variants} variant(s)) as "
            f"{progress.calls} call(s) of {progress.lanes_per_call} lane(s), {record['workers']} at a time, on "
            f"{record['devices_per_call']} device(s); {progress.episodes} episodes; compiled in "
            f"{progress.compile_s:.1f} s; starting at episode {progress.first_episode}",
            flush=True,
        )
        print(f"{provenance.numerics_line(record)}; recorded in {names.ENVIRONMENT}", flush=True)
        if "memory" in record:
            print(f"memory: {memory_fit.MemoryFit(**record['memory']).describe(progress.lanes)}", flush=True)
        return
    print(
        f"[{progress.episodes_done}/{progress.episodes}] {progress.config_episodes_per_s:.1f} config-episodes/s | "
        f"ETA {progress.eta_s:.0f} s | lanes with all actors stopped: {progress.lanes_all_stopped}/{progress.lanes}",
        flush=True,
    )


def print_result(run, run_dir: pathlib.Path, wall_s: float) -> None:
    """A finished run's stopping table, diverged lanes and where its results are."""
    print(f"done in {wall_s:.1f} s. All-actors stopping episode ({run.episodes} = never stopped):")
    print(results.stopping_tables(run.lanes, run.episodes))
    diverged = [row["lane"] for row in run.lanes if row["diverged"]]
    if diverged:
        print(f"diverged lanes (non-finite parameters or losses): {diverged}")
    kept = sorted(run_dir.glob(f"**/{names.CHECKPOINT}"))
    print(f"results in {run_dir}" + (f"; final state kept in {', '.join(map(str, kept))}" if kept else ""))
