"""What the command-line programs share: bad input as one line and exit code 2."""
from __future__ import annotations

import pathlib
import sys

from absl import flags

USAGE_EXIT_CODE = 2


class UsageFailure(Exception):
    """Bad input: reported as one line and exit code 2."""


def fail(message: str):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(USAGE_EXIT_CODE)


def parse_flags(argv: list[str]) -> list[str]:
    """absl flag parsing that reports a bad flag as one line and exits with code 2."""
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
