"""Fine-tuning progress as JSON lines (for the app's wizard) and a progress bar (for people).

The wizard runs ``python -m train ... --progress json`` as a subprocess and
reads its stdout line by line. What goes on the wire (every event, its fields,
the protocol's version the ``start`` event carries) is described once, in
:mod:`critique_app.core.finetuning.protocol`, which both sides import;
:meth:`Progress.emit` writes only the events it declares. The stream never
contains ANSI codes: the rich bar, when on, draws on stderr.

:func:`read_events` reads such a stream back, skipping anything that is not
an event (a library's stray print or warning) instead of failing; it uses the
protocol's per-line reader, as the app's wizard does.
:func:`describe_failure` turns an exception into the one-line message and the
hint the ``error`` event carries; out-of-memory gets advice, not a traceback.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from critique_app.core.finetuning.protocol import (
    EVENTS,
    PROTOCOL_VERSION,
    VERSION_FIELD,
    parse_event,
)
from critique_app.core.util.errors import CritiqueError

OOM_MESSAGE = "out of GPU memory"
OOM_HINT = (
    "lower --batch-size (the step keeps its size through --accumulate), "
    "turn on --gradient-checkpointing, or use a smaller model"
)


class Progress:
    """Reports one fine-tuning run: JSON lines to a stream and/or a file, and a bar.

    ``json_stream``: e.g. ``sys.stdout`` under ``--progress json``.
    ``json_path``: a file the events are appended to (a run's log on disk).
    ``bar``: a rich progress bar on stderr; None turns it on when stderr is a
    terminal. ``every``: write a ``step`` event every that many steps (the
    last step is always written); the bar moves on every step.

    Steps are counted from 1: ``step(n)`` reports that n optimizer steps are
    done. Safe to call from one trainer thread while another thread reads
    the file or stream; a lock keeps lines whole.
    """

    def __init__(
        self,
        json_stream: TextIO | None = None,
        json_path: Path | str | None = None,
        bar: bool | None = False,
        *,
        every: int = 1,
        clock: Callable[[], float] = time.monotonic,
        bar_stream: TextIO | None = None,
    ) -> None:
        if every < 1:
            raise ValueError("every must be at least 1")
        self.json_stream = json_stream
        self.json_path = Path(json_path) if json_path is not None else None
        self.every = every
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        self.total_steps: int | None = None
        self._first_step: tuple[int, float] | None = None  # (step, time) of the first step
        self._bar = None
        self._task = None
        bar_stream = bar_stream or sys.stderr
        if bar is None:
            bar = _is_terminal(bar_stream)
        self._bar_stream = bar_stream if bar else None

    # -- the JSON side ---------------------------------------------------------------------

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        """Write one event as one JSON line (to the stream and the file); return it."""
        if event not in EVENTS:
            raise ValueError(f"'{event}' is not an event of the progress protocol "
                             "(critique_app.core.finetuning.protocol.EVENTS)")
        record = {
            "event": event,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "elapsed_s": round(self._clock() - self._started, 3),
            **fields,
        }
        record = _jsonable(record)
        line = json.dumps(record, allow_nan=False, ensure_ascii=True) + "\n"
        with self._lock:
            if self.json_stream is not None:
                try:
                    self.json_stream.write(line)
                    self.json_stream.flush()
                except (BrokenPipeError, ValueError):
                    # The reader went away (the wizard closed): keep training and
                    # keep writing the file, stop writing to the dead pipe.
                    self.json_stream = None
            if self.json_path is not None:
                if self._file is None:
                    self.json_path.parent.mkdir(parents=True, exist_ok=True)
                    self._file = self.json_path.open("a", encoding="utf-8")
                self._file.write(line)
                self._file.flush()
        return record

    def start(
        self,
        task: str,
        total_steps: int,
        epochs: int,
        config: Mapping[str, Any],
        hardware: Mapping[str, Any],
        memory: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The run begins: what it trains, for how long, on what, and its memory estimate."""
        self.total_steps = total_steps
        self._first_step = None
        self._start_bar(task, total_steps)
        return self.emit(
            "start",
            **{VERSION_FIELD: PROTOCOL_VERSION},
            task=task,
            total_steps=total_steps,
            epochs=epochs,
            config=dict(config),
            hardware=dict(hardware),
            memory=None if memory is None else dict(memory),
            pid=os.getpid(),
        )

    def step(
        self, step: int, epoch: int, loss: float | None, lr: float | None, **extra: Any
    ) -> dict[str, Any] | None:
        """``step`` optimizer steps are done. Returns the event, or None when throttled.

        The rate is measured from the first reported step on, so the slow first
        step (CUDA start-up, kernel autotuning, data loader warm-up) does not
        inflate the ETA; until a second step arrives, rate and ETA are null.
        """
        now = self._clock()
        if self._first_step is None:
            self._first_step = (step, now)
        first, since = self._first_step
        rate = (step - first) / (now - since) if step > first and now > since else None
        eta = None
        if rate and self.total_steps is not None:
            eta = max(self.total_steps - step, 0) / rate
        self._advance_bar(step, loss)

        last = self.total_steps is not None and step >= self.total_steps
        if step % self.every and not last:
            return None
        return self.emit(
            "step",
            step=step,
            total_steps=self.total_steps,
            epoch=epoch,
            loss=loss,
            lr=lr,
            steps_per_s=None if rate is None else round(rate, 4),
            eta_s=None if eta is None else round(eta, 1),
            **extra,
        )

    def evaluate(self, step: int, epoch: int, metrics: Mapping[str, Any]) -> dict[str, Any]:
        """Validation results after ``step`` steps (e.g. loss, SRCC, PLCC, accuracy)."""
        self._print(
            "eval " + ", ".join(f"{k} {_short(v)}" for k, v in metrics.items()) + f" (step {step})"
        )
        return self.emit("evaluate", step=step, epoch=epoch, metrics=dict(metrics))

    def checkpoint(self, step: int, path: Path | str) -> dict[str, Any]:
        """A checkpoint was written to ``path``."""
        return self.emit("checkpoint", step=step, path=str(path))

    def log(self, message: str, level: str = "info") -> dict[str, Any]:
        """A message for the person watching: "info", "warning" or "error"."""
        self._print(message if level == "info" else f"{level}: {message}")
        return self.emit("log", level=level, message=message)

    def done(self, result: Mapping[str, Any]) -> dict[str, Any]:
        """The run finished; ``result``: where the model went, final metrics, ..."""
        self._stop_bar()
        return self.emit("done", result=dict(result))

    def error(
        self, message: str, hint: str | None = None, kind: str | None = None
    ) -> dict[str, Any]:
        """The run failed: one line for the person, a hint what to do, a kind for the UI."""
        self._stop_bar()
        self._print(f"error: {message}" + (f" ({hint})" if hint else ""))
        return self.emit("error", message=message, hint=hint, kind=kind)

    def fail(self, exc: BaseException) -> dict[str, Any]:
        """Report an exception as an ``error`` event (see :func:`describe_failure`)."""
        message, hint = describe_failure(exc)
        return self.error(message, hint=hint, kind=failure_kind(exc))

    def close(self) -> None:
        self._stop_bar()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the terminal side -----------------------------------------------------------------

    def _start_bar(self, task: str, total_steps: int) -> None:
        if self._bar_stream is None:
            return
        from rich import progress as rich
        from rich.console import Console

        self._stop_bar()
        self._bar = rich.Progress(
            rich.TextColumn("[bold]{task.description}"),
            rich.BarColumn(),
            rich.MofNCompleteColumn(),
            rich.TextColumn("loss {task.fields[loss]}"),
            rich.TimeElapsedColumn(),
            rich.TimeRemainingColumn(),
            console=Console(file=self._bar_stream),
        )
        self._task = self._bar.add_task(task, total=total_steps, loss="-")
        self._bar.start()

    def _advance_bar(self, step: int, loss: float | None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=step, loss=_short(loss))

    def _print(self, message: str) -> None:
        if self._bar is not None:
            self._bar.console.print(message, markup=False, highlight=False)

    def _stop_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def read_events(lines: Iterable[str | bytes]) -> Iterator[dict[str, Any]]:
    """The events in a trainer's output, skipping everything else.

    Libraries print to stdout now and then (warnings, download notices); a
    line that is not a JSON object with an ``event`` key is passed over, so
    the wizard never fails on it. The protocol's reader
    (:func:`critique_app.core.finetuning.protocol.parse_event`) decides per line.
    """
    for raw in lines:
        event = parse_event(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)
        if event is not None:
            yield event


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is the GPU running out of memory (in any of its disguises)."""
    if any(cls.__name__ == "OutOfMemoryError" for cls in type(exc).__mro__):
        return True  # torch.cuda.OutOfMemoryError (and torch.OutOfMemoryError)
    if isinstance(exc, RuntimeError):
        text = str(exc).lower()
        return "out of memory" in text or "cublas_status_alloc_failed" in text
    return False


def oom_hint(error: BaseException | None = None) -> str:
    """What to do about running out of GPU memory (with how much was asked, if known)."""
    asked = _tried_to_allocate(error) if error is not None else None
    return f"tried to allocate {asked}: {OOM_HINT}" if asked else OOM_HINT


def describe_failure(exc: BaseException) -> tuple[str, str | None]:
    """One line for the person, and a hint what to do (None when there is none)."""
    if is_out_of_memory(exc):
        return OOM_MESSAGE, oom_hint(exc)
    if isinstance(exc, MemoryError):
        return "out of memory (RAM)", "lower --batch-size or --workers, or use a smaller model"
    if isinstance(exc, KeyboardInterrupt):
        return "stopped", None
    if isinstance(exc, CritiqueError):
        return _first_line(str(exc)) or type(exc).__name__, None
    text = _first_line(str(exc))
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__), None


def failure_kind(exc: BaseException) -> str:
    """ "oom", "user" (a CritiqueError: bad data, options, hardware), "cancelled" or "internal"."""
    if is_out_of_memory(exc) or isinstance(exc, MemoryError):
        return "oom"
    if isinstance(exc, CritiqueError):
        return "user"
    if isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "Cancelled":
        return "cancelled"
    return "internal"


# -- helpers -------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Plain JSON values: NaN/inf -> None, tensors and numpy scalars -> numbers, paths -> str."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    item = getattr(value, "item", None)  # one-value tensors, numpy scalars and arrays
    if callable(item):
        try:
            return _jsonable(item())
        except (ValueError, RuntimeError, TypeError):
            pass  # more than one value
    tolist = getattr(value, "tolist", None)  # numpy arrays, tensors
    if callable(tolist):
        return _jsonable(tolist())
    return str(value)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return "-" if value is None else str(value)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _tried_to_allocate(error: BaseException) -> str | None:
    match = re.search(r"tried to allocate ([\d.]+ ?[KMGT]?i?B)", str(error), re.IGNORECASE)
    return match.group(1) if match else None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
