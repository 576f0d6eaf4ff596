"""What the command-line programs share: the flags that describe one training program,
and bad input as one line and exit code 2."""
from __future__ import annotations

import math
import os
import pathlib
import signal
import sys

from absl import app, flags

from jaxmadrl import numerics
from jaxmadrl.config import ACTOR_UPDATES, HyperParams
from jaxmadrl.env import MODES, SCALINGS
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
    flags.DEFINE_bool("deterministic_ops", True, "Deterministic GPU reductions and scatters "
                      "(--xla_gpu_deterministic_ops); XLA:CPU is deterministic either way. Recorded with the run.")


def mitigation_settings(only_changes: bool = False) -> dict:
    """HyperParams fields from the mitigation flags: all of them, or only those that differ
    from the unmitigated defaults."""
    defaults = HyperParams(actor_lr=1.0, critic_lr=1.0)
    settings = {}
    for name in MITIGATION_FLAGS:
        value = flags.FLAGS[name].value
        value = activation_code(value) if name == "output_activation" else float(value)
        if not (only_changes and value == getattr(defaults, name)):
            settings[name] = value
    return settings


def check_seed(seed: int) -> int:
    if not 0 <= seed < 2**32:
        raise UsageFailure(f"--seed must be in [0, 2**32), got {seed}")
    return seed

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
    interrupt in the middle of a computation, tearing down JAX's runtime can crash (every
    file the program writes is already whole, and its threads have been joined)."""
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
