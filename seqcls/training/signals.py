"""SIGINT and SIGTERM during training: `Interrupt` records a signal so the loop stops
cleanly after the current batch (the epoch log saves what completed); outside the epochs
`stopping_on_signals` turns one into `Stopped`, which unwinds like Ctrl-C so every
clean-up runs; `signals_handled` routes both to a handler and restores the previous ones.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any


class Stopped(BaseException):
    """SIGINT or SIGTERM outside the epochs (reading data, the final save): unwinds like
    Ctrl-C, so every clean-up runs (no temporary file is left). A BaseException, so that
    `except Exception` on the way does not swallow it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def stopping_on_signals():
    """Inside the block, SIGINT and SIGTERM raise Stopped (once: a signal during the
    clean-up that follows does not cut it short)."""
    raised = []

    def handler(signum, frame):
        if not raised:
            raised.append(signum)
            raise Stopped(signum)

    with signals_handled(handler):
        yield


class Interrupt:
    """Records SIGINT/SIGTERM so training can stop cleanly after the current batch."""

    EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}

    def __init__(self):
        self.signal: int | None = None

    @contextmanager
    def handling(self):
        def handler(signum, frame):
            if self.signal is not None:  # a second Ctrl-C: stop now
                raise KeyboardInterrupt
            self.signal = signum

        with signals_handled(handler):
            yield self


@contextmanager
def signals_handled(handler: Callable[[int, Any], None]):
    """Route SIGINT and SIGTERM to `handler` inside the block, then restore the previous
    handlers. Outside the main thread signals cannot be handled and are left alone."""
    previous = {}
    try:
        for signum in Interrupt.EXIT_CODES:
            previous[signum] = signal.signal(signum, handler)
    except ValueError:
        previous = {}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
