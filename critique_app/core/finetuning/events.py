"""The trainer's progress events, folded into what the wizard shows.

The events and their fields are described once, in
:mod:`critique_app.core.finetuning.protocol` (which ``train/progress.py``
writes); :class:`RunProgress` checks the protocol's version in the ``start``
event and says so when the trainer speaks another. Unknown events and non-JSON
lines (a library's stray warning) are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from critique_app.core.finetuning.protocol import parse_event, version_problem


@dataclass
class RunProgress:
    task: str = ""
    total_steps: int = 0
    step: int = 0
    epoch: float = 0.0
    epochs: int = 0
    eta_s: float | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    evaluations: list[tuple[int, dict]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    validation: dict | None = None
    memory: dict | None = None
    hardware: dict | None = None
    checkpoint_step: int | None = None
    error: dict | None = None
    result: dict | None = None
    protocol_problem: str | None = None  # the trainer speaks another protocol version

    def apply(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "start":
            self.task = event.get("task", self.task)
            self.total_steps = int(event.get("total_steps") or 0)
            self.epochs = int(event.get("epochs") or 0)
            self.hardware = event.get("hardware") or self.hardware
            self.memory = event.get("memory") or self.memory
            self.error = None  # a resumed run starts afresh
            self.protocol_problem = version_problem(event)
            if self.protocol_problem:
                self.logs.append(f"warning: {self.protocol_problem}")
        elif kind == "step":
            self.step = int(event.get("step") or self.step)
            self.epoch = float(event.get("epoch") or self.epoch)
            self.total_steps = int(event.get("total_steps") or self.total_steps)
            self.eta_s = event.get("eta_s")
            if isinstance(event.get("loss"), int | float):
                self.losses.append((self.step, float(event["loss"])))
        elif kind == "evaluate":
            self.evaluations.append((int(event.get("step") or 0), event.get("metrics") or {}))
        elif kind == "validation":
            self.validation = event
        elif kind == "memory_estimate":
            self.memory = event
        elif kind == "checkpoint":
            self.checkpoint_step = event.get("step")
        elif kind == "log":
            self.logs.append(f"{event.get('level', 'info')}: {event.get('message', '')}")
        elif kind == "error":
            self.error = event
            self.logs.append(f"error: {event.get('message', '')}")
        elif kind == "done":
            self.result = event.get("result") or {}

    def apply_lines(self, lines) -> None:
        for line in lines:
            event = parse_event(line)
            if event is not None:
                self.apply(event)

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def finished(self) -> bool:
        return self.result is not None and not self.result.get("stopped_early")

    @property
    def last_metrics(self) -> dict:
        return self.evaluations[-1][1] if self.evaluations else {}

    def status_text(self) -> str:
        if self.error:
            return f"stopped: {self.error.get('message', 'failed')}"
        if self.finished:
            return "finished"
        if not self.total_steps:
            return "starting…"
        eta = f", about {format_seconds(self.eta_s)} left" if self.eta_s else ""
        return (f"step {self.step} of {self.total_steps} · epoch {self.epoch:.1f} of "
                f"{self.epochs}{eta}")


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
