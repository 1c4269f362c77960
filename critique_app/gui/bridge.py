"""The one bridge between the Qt UI thread and the core's slow work.

Every analysis, score, critique, thumbnail, model pull and folder scoring goes
through :class:`Bridge`: the work is a plain core function given a
``threading.Event`` to watch, run on a thread pool; its results come back on
the UI thread through queued signals. A :class:`Task` is a handle: ``cancel()``
sets the event *and* drops whatever the work still delivers, so a stale photo's
results never reach the screen. ``shutdown()`` cancels everything and waits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from critique_app.core.util.errors import Cancelled, CritiqueError

log = logging.getLogger("critique.gui")

Work = Callable[["Task"], object]  # runs on a worker thread; reads task.cancel_event


class Task(QObject):
    """Background work in flight. Callbacks run on the UI thread, never after cancel()."""

    _item = Signal(object)
    _progress = Signal(object)
    _done = Signal(object)
    _failed = Signal(str)
    _ended = Signal()
    finished = Signal()  # always, last, even when cancelled or failed

    def __init__(self, name: str, *, on_item=None, on_progress=None, on_done=None,
                 on_error=None) -> None:
        super().__init__()
        self.name = name
        self.cancel_event = threading.Event()
        self.running = True
        self._callbacks = {"item": on_item, "progress": on_progress, "done": on_done,
                           "error": on_error}
        self._item.connect(self._deliver_item)
        self._progress.connect(self._deliver_progress)
        self._done.connect(self._deliver_done)
        self._failed.connect(self._deliver_error)
        self._ended.connect(self._deliver_end)

    # --- called from the worker thread -----------------------------------------
    def report(self, *values) -> None:
        """Progress from the work (thread-safe): on_progress(*values) on the UI thread."""
        self._progress.emit(values)

    def emit_item(self, item) -> None:
        self._item.emit(item)

    # --- UI thread ---------------------------------------------------------------
    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def _call(self, kind: str, *args) -> None:
        callback = self._callbacks[kind]
        if callback is not None and not self.cancelled:
            callback(*args)

    @Slot(object)
    def _deliver_item(self, item) -> None:
        self._call("item", item)

    @Slot(object)
    def _deliver_progress(self, values) -> None:
        self._call("progress", *values)

    @Slot(object)
    def _deliver_done(self, result) -> None:
        self._call("done", result)

    @Slot(str)
    def _deliver_error(self, message: str) -> None:
        self._call("error", message)

    @Slot()
    def _deliver_end(self) -> None:
        self.running = False
        self.finished.emit()


class Bridge(QObject):
    """Runs work off the UI thread. ``threads`` bounds how many run at once."""

    def __init__(self, threads: int = 3, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._live: set[Task] = set()

    def call(self, name: str, work: Work, **callbacks) -> Task:
        """Run ``work(task)``; its return value goes to ``on_done``."""
        task = self._task(name, callbacks)
        self.pool.start(lambda: self._run(task, work, stream=False))
        return task

    def stream(self, name: str, work: Callable[[Task], Iterator], **callbacks) -> Task:
        """Run the generator ``work(task)``; each item goes to ``on_item`` as it comes."""
        task = self._task(name, callbacks)
        self.pool.start(lambda: self._run(task, work, stream=True))
        return task

    def cancel_all(self) -> None:
        for task in list(self._live):
            task.cancel()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel everything and wait for the threads; False if some work would not stop."""
        self.cancel_all()
        return self.pool.waitForDone(timeout_ms)

    @property
    def busy(self) -> bool:
        return bool(self._live)

    def _task(self, name: str, callbacks: dict) -> Task:
        task = Task(name, **callbacks)
        self._live.add(task)
        task.finished.connect(lambda: self._live.discard(task))
        return task

    @staticmethod
    def _run(task: Task, work, *, stream: bool) -> None:
        """On the worker thread: run, forward results, turn failures into one line."""
        try:
            if stream:
                items = work(task)
                try:
                    for item in items:
                        task.emit_item(item)
                        if task.cancelled:
                            break
                finally:
                    close = getattr(items, "close", None)
                    if close:  # a generator stops its own threads now
                        close()
                task._done.emit(None)
            else:
                task._done.emit(work(task))
        except Cancelled:
            pass
        except CritiqueError as error:
            task._failed.emit(str(error))
        except Exception as error:  # a bug: shown in one line, logged in full
            log.exception("%s failed", task.name)
            task._failed.emit(f"internal error in {task.name}: {type(error).__name__}: {error}")
        finally:
            task._ended.emit()
