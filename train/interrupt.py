"""Ctrl-C (SIGINT; CTRL_BREAK on Windows, what the app's Stop sends) that is never lost.

Python turns SIGINT into a KeyboardInterrupt at the next bytecode of the main thread. When
that bytecode belongs to a finaliser or a weakref callback (torch runs many), the exception
is printed as "Exception ignored in ..." and dropped, and the run would go on to its end as
if nobody had asked it to stop. So the handler also remembers the request, and the loops
call :func:`check` after each step: the stop lands there at the latest.
"""

from __future__ import annotations

import signal
import threading

_requested = threading.Event()


def install() -> dict:
    """Route SIGINT (and SIGBREAK where it exists) here; returns the handlers replaced, for
    :func:`restore`. Only from the main thread (Python's rule for signal handlers)."""
    _requested.clear()
    previous = {}
    if threading.current_thread() is not threading.main_thread():
        return previous  # run in-process from a worker thread: its caller handles Ctrl-C
    for name in ("SIGINT", "SIGBREAK"):
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, _on_signal)
    return previous


def restore(previous: dict) -> None:
    for number, handler in previous.items():
        signal.signal(number, handler)
    _requested.clear()


def check() -> None:
    """Raise KeyboardInterrupt when a stop was asked for and its exception got lost."""
    if _requested.is_set():
        raise KeyboardInterrupt


def _on_signal(_signum, _frame) -> None:
    _requested.set()
    raise KeyboardInterrupt
