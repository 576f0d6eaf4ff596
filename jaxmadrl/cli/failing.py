"""Bad input and unusable output places as one line and an exit code, and flag parsing
that says so; what every command needs before it knows what it will run."""

from __future__ import annotations

import os
import pathlib
import sys

from absl import flags

USAGE_EXIT_CODE = 2
IO_EXIT_CODE = 1  # the input was fine; the disk (full, read-only, no permission) was not
NAME_MAX = 255  # bytes in one name of a path, on the file systems a run is written to


class UsageFailure(Exception):
    """Bad input: reported as one line and exit code 2."""


def fail(message: str, exit_code: int = USAGE_EXIT_CODE):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(exit_code)


def parse_flags(argv: list[str], module) -> list[str]:
    """Parses ``argv`` with the command ``module``'s own flags (``module.FLAGS``, defaults
    first: a command run twice in one process starts afresh each time); a bad flag is one
    line and exit code 2; --help (-h, --helpshort: the module's docstring and key flags) and
    --helpfull (all its flags) are answered on stdout with exit code 0. absl's own flags
    (which ``app.run`` reads) keep their defaults."""
    command_flags = module.FLAGS
    asked = {"--help", "-h", "-?", "--helpshort", "--helpfull"} & set(argv[1:])
    if asked:
        shown = command_flags.get_help() if "--helpfull" in asked else command_flags.module_help(module.__name__)
        print(f"{module.__doc__}\n{shown}\n\nTry --helpfull to get a list of all flags.")
        sys.exit(0)
    command_flags.unparse_flags()
    flags.FLAGS.mark_as_parsed()
    try:
        return command_flags(argv)
    except flags.Error as error:
        fail(str(error))


def check_new_output_dir(path) -> pathlib.Path:
    """``path`` as a new run folder's: UsageFailure naming --out if it exists, if a part of
    it is a file, or if it cannot be a path on this system (e.g. a name over 255 bytes)."""
    out = pathlib.Path(path)
    too_long = [part for part in out.parts if len(os.fsencode(part)) > NAME_MAX]
    if too_long:
        raise UsageFailure(f"--out {out}: a name in it is over {NAME_MAX} bytes (File name too long)")
    try:
        if out.exists():
            raise UsageFailure(f"--out {out} already exists; choose a new directory")
        file = next((parent for parent in out.parents if parent.exists() and not parent.is_dir()), None)
    except OSError as error:
        raise UsageFailure(f"--out {out}: {error.strerror or error}") from None
    if file is not None:
        raise UsageFailure(f"--out {out}: {file} is a file, not a folder")
    return out


def widths(command_flags: flags.FlagValues, flag_name: str) -> tuple[int, ...]:
    """The list flag ``flag_name`` of layer widths as integers; UsageFailure if it is not one."""
    try:
        return tuple(int(v) for v in command_flags[flag_name].value)
    except ValueError:
        raise UsageFailure(f"--{flag_name} must be comma-separated integers, got {command_flags[flag_name].value}")
