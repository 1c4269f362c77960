"""Page 5: the run. The trainer runs as its own process; its JSON-lines events
drive the progress bar, the step/epoch/ETA line and the live loss curve, and
everything it prints goes to the log.

Stop sends the trainer SIGINT: it saves a checkpoint and exits, and Resume
continues from there (also from the first page, days later). A failure (bad
data, out of memory, a crash) is shown here with the trainer's reason and hint;
it never takes the app down.
"""

from __future__ import annotations

import collections
import shlex
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from critique_app.core.finetuning.events import RunProgress, format_seconds
from critique_app.core.finetuning.plan import resume_argv, train_command
from critique_app.core.finetuning.protocol import parse_event
from critique_app.core.finetuning.runs import new_run_dir, read_run
from critique_app.gui.finetune.loss_plot import LossPlot
from critique_app.gui.finetune.pages import RESULTS
from critique_app.gui.finetune.process import TrainerProcess
from critique_app.gui.finetune.widgets import MessageLabel, note

EXIT_INTERRUPTED = 130
REFRESH_MS = 150
STDERR_SHOWN = 6
LOG_LINES = 5000
METRIC_NAMES = {"srcc": "SRCC", "plcc": "PLCC", "emd": "EMD", "accuracy": "accuracy",
                "loss": "loss", "perplexity": "perplexity", "bleu_4": "BLEU-4",
                "meteor": "METEOR", "rouge_l": "ROUGE-L", "cider": "CIDEr"}


class RunPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Training")
        self.setSubTitle("The trainer runs as a separate program. Closing this window stops "
                         "it; a stopped run can be resumed.")
        self.setButtonText(QWizard.WizardButton.NextButton, "Results")
        self.status = QLabel()
        font = self.status.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.status.setFont(font)
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setFormat("%p%")
        self.metrics = note()
        self.problem = MessageLabel()
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop training; a checkpoint is kept, so it can be resumed")
        self.stop_button.clicked.connect(self.stop)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue from the last checkpoint")
        self.resume_button.clicked.connect(self.resume)
        self.folder_note = note()
        self.plot = LossPlot(self)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setMinimumHeight(110)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))

        buttons = QHBoxLayout()
        buttons.addWidget(self.bar, 1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.resume_button)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.status)
        top_layout.addLayout(buttons)
        top_layout.addWidget(self.metrics)
        top_layout.addWidget(self.problem)
        top_layout.addWidget(self.plot, 1)
        top_layout.addStretch(0)  # takes the room while the plot waits for its first point
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.log)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.folder_note)

        self.process = TrainerProcess(self)
        self.process.stdoutLine.connect(self._stdout)
        self.process.stderrLine.connect(self._stderr)
        self.process.ended.connect(self._ended)
        self.progress = RunProgress()
        self.run_dir: Path | None = None
        self.task = ""
        self.outcome = ""  # "", "running", "stopping", "finished", "stopped", "failed"
        self.exit_code: int | None = None
        self._resuming = False
        self._dirty = False
        self._recent: collections.deque[str] = collections.deque(maxlen=4)
        self._refresh_timer = QTimer(self, interval=REFRESH_MS)
        self._refresh_timer.timeout.connect(self._refresh_if_dirty)
        self._set_buttons()

    # --- entering the page ----------------------------------------------------------------
    def initializePage(self) -> None:
        wizard = self.wizard()
        self.log.clear()
        self._recent.clear()
        self.problem.show_info("")
        if wizard.chosen_action == "resume" and wizard.chosen_run is not None:
            run = wizard.chosen_run
            self.run_dir, self.task, self.progress = run.folder, run.task, run.progress
            self.progress.error = None
            self.resume()
            return
        plan = wizard.build_plan()
        self.task, self.progress = plan.task, RunProgress()
        self.run_dir = new_run_dir(plan.task)
        self._start(train_command(plan.argv(self.run_dir)), resuming=False)

    def nextId(self) -> int:
        return RESULTS

    def isComplete(self) -> bool:
        return self.outcome == "finished"

    # --- running --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.process.running

    def _start(self, command: list[str], *, resuming: bool) -> None:
        self._resuming = resuming
        self.exit_code = None
        self.outcome = "running"
        self.problem.show_info("")
        self.wizard().model_dir = None
        self.folder_note.setText(f"Run folder: {self.run_dir}")
        self._log(("resuming: " if resuming else "") + shlex.join(command))
        self.wizard().set_back_allowed(False)
        self.process.start(command)
        self._refresh_timer.start()
        self._set_buttons()
        self._refresh()
        self.completeChanged.emit()

    def resume(self) -> None:
        if self.running or self.run_dir is None:
            return
        self._start(train_command(resume_argv(self.task, self.run_dir)), resuming=True)

    def stop(self) -> None:
        """Ask the trainer to stop; it keeps a checkpoint and exits (escalates if it hangs)."""
        if not self.running:
            return
        self.outcome = "stopping"
        self._log("stopping: the trainer saves a checkpoint first…")
        self.process.stop()
        self._set_buttons()
        self._refresh()

    def stop_and_wait(self) -> None:
        """Stop and block until the trainer is gone (the wizard or the app is closing)."""
        if self.running:
            self.outcome = "stopping"
            self.process.stop_and_wait()

    # --- the trainer's output -------------------------------------------------------------
    def _stdout(self, line: str) -> None:
        event = parse_event(line)
        if event is None:
            if line.strip():
                self._log(line)
            return
        if event["event"] == "start" and self._resuming:
            self._forget_after_checkpoint()
        self.progress.apply(event)
        if event["event"] == "start" and self.progress.protocol_problem:
            self._log(f"warning: {self.progress.protocol_problem}")
        text = describe_event(event)
        if text:
            self._log(text)
        self._dirty = True

    def _stderr(self, line: str) -> None:
        if line.strip():
            self._log(line)

    def _forget_after_checkpoint(self) -> None:
        """A resumed run repeats the steps after its checkpoint: drop their old losses."""
        last = self.progress.checkpoint_step
        if last is None:
            return
        self.progress.losses = [(s, v) for s, v in self.progress.losses if s <= last]
        self.progress.evaluations = [(s, m) for s, m in self.progress.evaluations if s <= last]

    def _ended(self, exit_code: int, how: str) -> None:
        self._refresh_timer.stop()
        self.exit_code = exit_code
        stopping = self.outcome == "stopping"
        error = self.progress.error or {}
        if exit_code == 0 and self.progress.finished:
            self.outcome = "finished"
            model_dir = (self.progress.result or {}).get("model_dir")
            self.wizard().model_dir = Path(model_dir) if model_dir else self.run_dir / "model"
            self.problem.show_info("")
        elif stopping or exit_code == EXIT_INTERRUPTED or error.get("kind") == "interrupted" \
                or (exit_code == 0 and self.progress.result is not None):
            self.outcome = "stopped"
            self.problem.show_info(self._stopped_text())
        else:
            self.outcome = "failed"
            self.problem.show_error(self._failure_text(exit_code, how), rich=True)
        self._log(f"the trainer exited ({how}, code {exit_code})")
        self.wizard().set_back_allowed(True)
        self._set_buttons()
        self._refresh()
        self.completeChanged.emit()

    def _stopped_text(self) -> str:
        run = read_run(self.run_dir) if self.run_dir else None
        if run is not None and run.resumable:
            step = self.progress.checkpoint_step or self.progress.step
            return (f"Stopped. A checkpoint at step {step} was kept: Resume continues from "
                    "there, now or later (from the first page of this window).")
        return "Stopped before the first checkpoint: start again with Back."

    def _failure_text(self, exit_code: int, how: str) -> str:
        import html

        error = self.progress.error
        if error and error.get("message"):
            text = f"<b>Training failed:</b> {html.escape(error['message'])}"
            if error.get("hint"):
                text += f"<br><b>What to try:</b> {html.escape(error['hint'])}"
            return text
        lines = [line for line in self.process.stderr_tail if line.strip()][-STDERR_SHOWN:]
        if how == "failed to start":
            head = "The trainer could not be started."
        elif how == "crash":
            head = "The trainer crashed."
        else:
            head = f"The trainer stopped with exit code {exit_code}."
        detail = "<br>".join(html.escape(line) for line in lines)
        return f"<b>{head}</b>" + (f"<br>{detail}" if detail else "")

    # --- showing --------------------------------------------------------------------------
    def _log(self, text: str) -> None:
        if text in self._recent:  # the trainer says its last error on stdout and on stderr
            return
        self._recent.append(text)
        self.log.appendPlainText(text)

    def _refresh_if_dirty(self) -> None:
        if self._dirty:
            self._refresh()

    def _refresh(self) -> None:
        self._dirty = False
        progress = self.progress
        status = {"stopping": "Stopping…", "finished": "Finished",
                  "stopped": "Stopped", "failed": "Failed"}.get(self.outcome)
        if self.outcome == "running":
            status = running_text(progress)
        elif self.outcome in ("stopped", "failed") and progress.total_steps:
            status += f" at step {progress.step} of {progress.total_steps}"
        elif self.outcome == "finished" and progress.total_steps:
            status += f": {progress.total_steps} steps, {progress.epochs} epochs"
        self.status.setText(status or "")
        self.bar.setValue(round(progress.fraction * 1000))
        self.plot.set_losses(progress.losses, progress.evaluations)
        self.plot.setVisible(bool(progress.losses))  # no empty axes before the first step
        self.metrics.setText(describe_metrics(progress.last_metrics))

    def _set_buttons(self) -> None:
        running = self.running
        self.stop_button.setEnabled(running and self.outcome != "stopping")
        resumable = (not running and self.outcome in ("stopped", "failed")
                     and self.run_dir is not None
                     and (r := read_run(self.run_dir)) is not None and r.resumable)
        self.resume_button.setVisible(bool(resumable))
        self.stop_button.setVisible(not resumable)
        self.setButtonText(QWizard.WizardButton.CancelButton,
                           "Close (stops training)" if running else "Close")


def running_text(progress: RunProgress) -> str:
    """"Step 40 of 120 · epoch 1.3 of 4, about 2 min left" (no "0 s left" at the end)."""
    if not progress.total_steps:
        return "Starting… (loading the data and the model)"
    text = f"Step {progress.step} of {progress.total_steps} · epoch {progress.epoch:.1f} of " \
        f"{progress.epochs}"
    if progress.eta_s is not None and progress.eta_s >= 1:
        text += f", about {format_seconds(progress.eta_s)} left"
    elif progress.eta_s is not None:
        text += ", almost done"
    return text


def describe_metrics(metrics: dict) -> str:
    if not metrics:
        return ""
    parts = [f"{METRIC_NAMES.get(k, k)} {v:.3f}" for k, v in metrics.items()
             if isinstance(v, float) and k in METRIC_NAMES]
    return ("On the held-out photos: " + ", ".join(parts)) if parts else ""


def describe_event(event: dict) -> str:
    """A log line for the events a person wants to read (steps only move the bar)."""
    kind = event.get("event")
    if kind == "log":
        level = event.get("level", "info")
        return event.get("message", "") if level == "info" else \
            f"{level}: {event.get('message', '')}"
    if kind == "start":
        return f"training: {event.get('total_steps')} steps over {event.get('epochs')} epochs"
    if kind == "evaluate":
        metrics = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in (event.get("metrics") or {}).items())
        return f"held out after step {event.get('step')}: {metrics}"
    if kind == "checkpoint":
        return f"checkpoint saved at step {event.get('step')}"
    if kind == "error" and event.get("kind") == "interrupted":
        return "stopped: the last finished step is kept in a checkpoint"
    if kind == "error":
        hint = f" ({event['hint']})" if event.get("hint") else ""
        return f"error: {event.get('message', '')}{hint}"
    if kind == "done":
        where = (event.get("result") or {}).get("model_dir")
        return f"done: the model is in {where}" if where else "done"
    return ""
