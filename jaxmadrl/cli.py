"""What the command-line programs share: the flags that describe one training program and
a run folder, running one as a command, and bad input, full disks and signals as one line
and an exit code."""
from __future__ import annotations

import math
import os
import pathlib
import signal
import sys

from absl import app, flags

from jaxmadrl import files, numerics, runs
from jaxmadrl.config import ACTOR_UPDATES, HyperParams
from jaxmadrl.env import MODES, SCALINGS
from jaxmadrl.limits import SettingError
from jaxmadrl.networks import ACTIVATION_NAMES, activation_code

# Traced HyperParams fields that mitigate output saturation (flag name = field name).
MITIGATION_FLAGS = ("output_activation", "layer_norm", "actor_grad_clip", "critic_grad_clip",
                    "reward_normalisation", "output_lr_multiplier")


def define_training_flags() -> None:
    """Flags of the environment, the networks, the update order and the mitigations."""
    flags.DEFINE_integer("n_agents", 50, "Number of client agents (devices).")
    flags.DEFINE_integer("steps_per_episode", 10, "Environment steps per episode.")
    flags.DEFINE_enum("mode", "H2", list(MODES), "Server model: H2 (shared units, queue) or TOBM.")
    flags.DEFINE_enum("scaling", "updated", list(SCALINGS), "Task-size scaling of the environment.")
    flags.DEFINE_enum("actor_update", "simultaneous", list(ACTOR_UPDATES),
                      "Update all actors from one loss, or one after another as the reference does.")
    flags.DEFINE_list("actor_hidden", ["64", "32"], "Actor hidden layer widths (each size compiles anew).")
    flags.DEFINE_list("critic_hidden", ["512", "128"], "Critic hidden layer widths (each size compiles anew).")
    flags.DEFINE_enum("output_activation", "tanh", list(ACTIVATION_NAMES), "Actor output activation.")
    flags.DEFINE_bool("layer_norm", False, "LayerNorm on the actors' output pre-activations.")
    flags.DEFINE_float("actor_grad_clip", math.inf, "Clip each actor's gradient to this L2 norm (inf = off).")
    flags.DEFINE_float("critic_grad_clip", math.inf, "Clip the critic gradient to this L2 norm (inf = off).")
    flags.DEFINE_bool("reward_normalisation", False, "Standardise rewards by their running mean and std.")
    flags.DEFINE_float("output_lr_multiplier", 1.0, "Factor on the actors' output-layer learning rate.")
    flags.DEFINE_enum("matmul_precision", numerics.DEFAULT_MATMUL_PRECISION, list(numerics.MATMUL_PRECISIONS),
                      "Precision of float32 matrix products: highest = full float32 on every backend; high and "
                      "default allow faster, less exact modes (e.g. TF32 on NVIDIA GPUs). Recorded with the run.")
    flags.DEFINE_bool("deterministic_ops", None, "Deterministic GPU reductions and scatters "
                      "(--xla_gpu_deterministic_ops); XLA:CPU is deterministic either way. Default: on, unless "
                      "XLA_FLAGS sets it; a resume keeps the run's setting. Recorded with the run.")


def define_run_flags(default_out: str) -> None:
    """Flags of a command that writes a run folder (``runs``)."""
    flags.DEFINE_string("out", None, f"New run folder (default {default_out}).")
    flags.DEFINE_string("resume", None, "Continue the run in this folder from its last checkpoint.")
    flags.DEFINE_bool("keep_checkpoint", False, "Keep the final state (weights, optimisers, replay; about as large "
                      "as a checkpoint) in RUN/checkpoint/ when the run completes; by default it is deleted.")


# Flags that change how lanes round, and the field of the environment record that holds
# each: a resume keeps the recorded value unless the flag is given.
RECORDED_FLAGS = {"lanes_per_call": "lanes_per_call", "devices": "devices_per_call",
                  "matmul_precision": "matmul_precision", "deterministic_ops": "deterministic_gpu_ops"}


def execution_from_flags(recorded: dict | None) -> runs.Execution:
    """How to run, from the flags this command defines; where a flag is not given and the
    run being resumed recorded a value, that value, so that a resume computes as the run did."""
    def value(flag):
        if flag not in flags.FLAGS:
            return None
        given = flags.FLAGS[flag]
        if given.present or not recorded or recorded.get(RECORDED_FLAGS.get(flag)) is None:
            return given.value
        return recorded[RECORDED_FLAGS[flag]]
    if recorded and value("lanes_per_call") != recorded.get("lanes_per_call"):
        recorded = {k: v for k, v in recorded.items() if k != "devices_per_call"}  # it was for the old width
    return runs.Execution(lanes_per_call=value("lanes_per_call"), devices=value("devices"), workers=value("workers"),
                          matmul_precision=value("matmul_precision"), deterministic_ops=value("deterministic_ops"))


def run_command(module: str, definition, run_dir: pathlib.Path, resuming: bool) -> None:
    """Runs (or resumes) ``definition`` in ``run_dir`` as the command ``python -m module``:
    a complete run shows its table; a bad setting or unusable folder is one line and exit
    2; a disk that cannot be written one line and exit 1 (naming the resume command if a
    checkpoint is intact); Ctrl-C and SIGTERM one line and exit 130 / 143."""
    try:
        if resuming and runs.is_complete(run_dir):
            print(f"{run_dir} is complete:\n{(run_dir / 'table.txt').read_text()}", end="")
            return
        environments = runs.recorded_environments(run_dir) if resuming else []
        execution = execution_from_flags(environments[-1] if environments else None)
        if execution.deterministic_ops is not None:
            numerics.request_deterministic_gpu_ops(execution.deterministic_ops)
    except (OSError, ValueError) as error:
        fail(str(error))
    interrupt_on_sigterm()
    try:
        runs.run(definition, run_dir, resuming, execution, environments, flags.FLAGS.keep_checkpoint)
    except SettingError as error:
        fail(f"--{error.setting} {error.problem}")
    except runs.RunFolderError as error:
        fail(str(error))
    except OSError as error:
        resume = f"; the last checkpoint is intact: python -m {module} --resume {run_dir}"
        fail(f"cannot write the run: {files.io_error_text(error)}" + (resume if runs.is_resumable(run_dir) else ""),
             IO_EXIT_CODE)
    except KeyboardInterrupt as interrupt:
        exit_interrupted(interrupt, f"continue with: python -m {module} --resume {run_dir}")


def mitigation_settings() -> dict:
    """HyperParams fields from the mitigation flags that differ from the unmitigated defaults."""
    defaults = HyperParams(actor_lr=1.0, critic_lr=1.0)
    settings = {}
    for name in MITIGATION_FLAGS:
        value = flags.FLAGS[name].value
        value = activation_code(value) if name == "output_activation" else float(value)
        if value != getattr(defaults, name):
            settings[name] = value
    return settings


USAGE_EXIT_CODE = 2
IO_EXIT_CODE = 1  # the input was fine; the disk (full, read-only, no permission) was not


class UsageFailure(Exception):
    """Bad input: reported as one line and exit code 2."""


def fail(message: str, exit_code: int = USAGE_EXIT_CODE):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(exit_code)


class Terminated(KeyboardInterrupt):
    """SIGTERM (what a cluster scheduler sends before it kills a job), handled like Ctrl-C."""


def interrupt_on_sigterm() -> None:
    """From now on SIGTERM raises ``Terminated`` in the main thread."""
    def terminate(signum, frame):
        raise Terminated()
    signal.signal(signal.SIGTERM, terminate)


def exit_interrupted(interrupt: KeyboardInterrupt, message: str):
    """Prints ``message`` and ends the process with 128 + the signal's number, as the shell
    reports a process the signal ended. It skips the interpreter's teardown: after an
    interrupt in the middle of a computation, tearing down JAX's runtime can crash. Every
    file the program writes appears whole or not at all, so whatever a worker thread was
    still writing is simply absent."""
    print(f"\n{'terminated (SIGTERM)' if isinstance(interrupt, Terminated) else 'interrupted'}; {message}",
          file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(128 + (signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT))


def parse_flags(argv: list[str]) -> list[str]:
    """absl flag parsing that reports a bad flag as one line and exits with code 2, and
    answers --help (-h, --helpshort) and --helpfull on stdout with exit code 0."""
    asked = {"--help", "-h", "-?", "--helpshort", "--helpfull"} & set(argv[1:])
    if asked:
        app.usage(shorthelp="--helpfull" not in asked, writeto_stdout=True, exitcode=0)
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        fail(str(error))


def check_new_output_dir(path: str) -> pathlib.Path:
    out = pathlib.Path(path)
    if out.exists():
        raise UsageFailure(f"--out {out} already exists; choose a new directory")
    return out


def widths(flag_name: str) -> tuple[int, ...]:
    """A list flag of layer widths as integers; UsageFailure if it is not one."""
    try:
        return tuple(int(v) for v in flags.FLAGS[flag_name].value)
    except ValueError:
        raise UsageFailure(f"--{flag_name} must be comma-separated integers, got {flags.FLAGS[flag_name].value}")
