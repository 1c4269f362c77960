"""The trainer as a child process: its output line by line, and a clean stop.

``python -m train ... --progress json`` prints one JSON event per line on
stdout; stderr carries warnings and, when it fails before it can report, the
reason. Stopping sends SIGINT on POSIX, so the trainer writes a checkpoint and
exits 130 (``--resume`` continues from it); a trainer that does not stop in
time is terminated, then killed. On Windows the trainer starts in its own
process group and gets CTRL_BREAK, which it treats like Ctrl-C (untested here:
no Windows machine; if the break cannot be sent it is terminated, and its last
checkpoint stays resumable).
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import sys

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

STOP_TIMEOUT_MS = 20_000  # a checkpoint of a big model takes a while to write
KILL_TIMEOUT_MS = 5_000
STDERR_KEPT = 40


class TrainerProcess(QObject):
    """One run of the trainer. ``ended(exit_code, how)``: how is "exit", "crash" or
    "failed to start" (then exit_code is -1)."""

    stdoutLine = Signal(str)
    stderrLine = Signal(str)
    ended = Signal(int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process: QProcess | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_KEPT)
        self.stopping = False
        self.pid: int | None = None
        self._out = self._err = b""
        self._escalate = QTimer(self, singleShot=True)
        self._escalate.timeout.connect(self._escalate_stop)

    # --- starting -------------------------------------------------------------------------
    def start(self, command: list[str]) -> None:
        if self.running:
            raise RuntimeError("the trainer is already running")
        self.stderr_tail.clear()
        self.stopping = False
        self._out = self._err = b""
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")
        environment.insert("PYTHONIOENCODING", "utf-8")
        process.setProcessEnvironment(environment)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._error)
        process.started.connect(self._started)
        self.process = process
        if sys.platform == "win32":
            _own_process_group(process)
        process.start(command[0], command[1:])

    @property
    def running(self) -> bool:
        return (self.process is not None
                and self.process.state() != QProcess.ProcessState.NotRunning)

    # --- stopping -------------------------------------------------------------------------
    def stop(self, timeout_ms: int = STOP_TIMEOUT_MS) -> None:
        """Ask the trainer to stop (it saves a checkpoint); escalate if it does not."""
        if not self.running:
            return
        self.stopping = True
        self._interrupt()
        self._escalate.start(timeout_ms)

    def stop_and_wait(self, timeout_ms: int = STOP_TIMEOUT_MS) -> bool:
        """Stop now and block until the process is gone (closing the window or the app).
        True when it stopped on its own, False when it had to be killed."""
        process = self.process
        if process is None or not self.running:
            return True
        self.stopping = True
        self._interrupt()
        if process.waitForFinished(timeout_ms):
            return True
        process.terminate()
        if not process.waitForFinished(KILL_TIMEOUT_MS):
            process.kill()
            process.waitForFinished(KILL_TIMEOUT_MS)
        return False

    def _interrupt(self) -> None:
        process = self.process
        if process is None:
            return
        pid = process.processId()
        if pid:
            try:
                os.kill(pid, signal.CTRL_BREAK_EVENT if sys.platform == "win32"
                        else signal.SIGINT)
                return
            except (OSError, AttributeError):
                pass  # already gone, or no such signal here
        process.terminate()

    def _escalate_stop(self) -> None:
        process = self.process
        if process is None or not self.running:
            return
        process.terminate()
        QTimer.singleShot(KILL_TIMEOUT_MS, self._kill_if_running)

    def _kill_if_running(self) -> None:
        if self.process is not None and self.running:
            self.process.kill()

    # --- output ---------------------------------------------------------------------------
    def _started(self) -> None:
        self.pid = self.process.processId() if self.process is not None else None

    def _read_stdout(self) -> None:
        if self.process is not None:
            self._out += bytes(self.process.readAllStandardOutput())
            self._out = self._emit_lines(self._out, self.stdoutLine.emit)

    def _read_stderr(self) -> None:
        if self.process is not None:
            self._err += bytes(self.process.readAllStandardError())
            self._err = self._emit_lines(self._err, self._stderr)

    @staticmethod
    def _emit_lines(buffer: bytes, emit) -> bytes:
        *lines, rest = buffer.split(b"\n")
        for line in lines:
            emit(_text(line))
        return rest

    def _stderr(self, line: str) -> None:
        if line.strip():
            self.stderr_tail.append(line)
        self.stderrLine.emit(line)

    def _drain(self) -> None:
        """What is left when the process ends, including a last line without a newline."""
        self._read_stdout()
        self._read_stderr()
        if self._out:
            self.stdoutLine.emit(_text(self._out))
        if self._err:
            self._stderr(_text(self._err))
        self._out = self._err = b""

    def _finished(self, exit_code: int, status: QProcess.ExitStatus) -> None:
        self._escalate.stop()
        self._drain()
        how = "crash" if status == QProcess.ExitStatus.CrashExit else "exit"
        self.ended.emit(exit_code, how)

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            message = self.process.errorString() if self.process is not None else "unknown"
            self.stderr_tail.append(f"the trainer could not be started: {message}")
            self.ended.emit(-1, "failed to start")


def _own_process_group(process: QProcess) -> None:
    """Windows: a new process group, so CTRL_BREAK reaches the trainer and not the app."""
    import subprocess

    def modify(arguments) -> None:
        arguments.flags |= subprocess.CREATE_NEW_PROCESS_GROUP

    # An older PySide6 lacks the modifier: stopping then falls back to terminate().
    with contextlib.suppress(AttributeError):
        process.setCreateProcessArgumentsModifier(modify)


def _text(data) -> str:
    return bytes(data).decode("utf-8", errors="replace").rstrip("\r\n")
