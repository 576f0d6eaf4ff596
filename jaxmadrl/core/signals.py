"""SIGINT and SIGTERM as one line and exit code 130 / 143, never lost.

A command installs the handlers first (``interrupt_on_signals``), before its heavy
imports. The handler raises ``Interrupted`` where the signal finds the main thread, which
stops the run at once in the usual case. Python discards an exception raised inside a
garbage-collector callback, a weakref callback or ``__del__`` (JAX runs code in all
three), so the handler also records the signal, and the long-running loops call
``raise_if_interrupted`` at every safe point (after compiling, after every chunk, before the
results are written): a signal whose exception was discarded still ends the run there.

This module imports nothing but the standard library, so that it is in force before JAX
is imported.
"""

from __future__ import annotations

import os
import signal
import sys

_received: list[int] = []  # the signals received since the handlers were installed, in order


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM (what a cluster scheduler sends before it kills a job)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


def _on_signal(signum, frame):
    _received.append(signum)
    raise Interrupted(signum)


def interrupt_on_signals() -> None:
    """From now on SIGINT and SIGTERM raise ``Interrupted`` in the main thread and are
    recorded. SIGINT's handler is set even if the process started with SIGINT ignored, as a
    script's background job does (Python then installs none): ``kill -INT`` still ends the
    run with its one line and a resumable folder, instead of going unheard. An
    ``Interrupted`` that Python discards is not reported as "Exception ignored" (the record
    ends the run instead); every other discarded exception still is."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    report_discarded = sys.unraisablehook

    def quiet_about_interrupts(unraisable):
        if not isinstance(unraisable.exc_value, Interrupted):
            report_discarded(unraisable)

    sys.unraisablehook = quiet_about_interrupts


def raise_if_interrupted() -> None:
    """Raises ``Interrupted`` for the first signal received, if any: at a safe point, in
    case the handler's own exception was discarded."""
    if _received:
        raise Interrupted(_received[0])


def signal_number(interrupt: KeyboardInterrupt) -> int:
    """The signal behind ``interrupt``: its own, or SIGINT for a plain KeyboardInterrupt."""
    return getattr(interrupt, "signum", signal.SIGINT)


def exit_interrupted(interrupt: KeyboardInterrupt, message: str | None = None):
    """Prints one line (``message`` after what happened) and ends the process with 128 +
    the signal's number, as the shell reports a process the signal ended. It skips the
    interpreter's teardown: after an interrupt in the middle of a computation, tearing down
    JAX's runtime can crash. Every file the program writes appears whole or not at all, so
    whatever a worker thread was still writing is simply absent."""
    signum = signal_number(interrupt)
    what = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
    print(f"\n{what}" + (f"; {message}" if message else ""), file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(128 + signum)
