"""Starting a command: the signal handlers first, then the command's imports and flags.

A command's ``python -m jaxmadrl.<name>`` module only calls ``launch``, so that Ctrl-C or
a scheduler's SIGTERM at any moment — while JAX is being imported, while flags are
parsed, while a run compiles or trains, while figures are drawn — ends the process with
one line and exit 130 / 143 (``core.signals``). A command that can say more (how to
resume a run) catches the interrupt itself."""

from __future__ import annotations

import functools
import importlib

from jaxmadrl.core import signals


def launch(module_name: str) -> None:
    """Runs ``module_name``'s ``main(argv)`` as an absl program with the project's flag
    parsing (a bad flag: one line, exit 2)."""
    signals.interrupt_on_signals()
    try:
        from absl import app  # imported only now: a signal during these imports is handled

        from jaxmadrl.cli import failing

        module = importlib.import_module(module_name)
        app.run(module.main, flags_parser=functools.partial(failing.parse_flags, module=module))
    except KeyboardInterrupt as interrupt:
        signals.exit_interrupted(interrupt)


def sweep() -> None:
    """The console script ``jaxmadrl-sweep`` (``python -m jaxmadrl.sweep``)."""
    launch("jaxmadrl.cli.sweep")


def train() -> None:
    """The console script ``jaxmadrl-train`` (``python -m jaxmadrl.train``)."""
    launch("jaxmadrl.cli.train")


def figures() -> None:
    """The console script ``jaxmadrl-figures`` (``python -m jaxmadrl.figures``)."""
    launch("jaxmadrl.cli.figures")


def evaluate() -> None:
    """The console script ``jaxmadrl-evaluate`` (``python -m jaxmadrl.evaluate``)."""
    launch("jaxmadrl.cli.evaluate")
