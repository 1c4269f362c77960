"""Progress events: one valid JSON object per line, a sensible ETA, a forgiving reader."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from datetime import datetime

import numpy as np
import pytest
import torch

from critique_app.core.finetuning.protocol import PROTOCOL_VERSION
from critique_app.core.util.errors import CritiqueError
from tests.helpers.photos import REPO_ROOT
from train.progress import (
    OOM_HINT,
    Progress,
    describe_failure,
    failure_kind,
    oom_hint,
    read_events,
)


class FakeClock:
    """Seconds that pass only when the test says so (no timed assertions)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines_of(stream: io.StringIO) -> list[dict]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_every_event_is_one_json_line_with_the_common_keys():
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(stream, clock=clock)
    progress.start(
        "score",
        total_steps=2,
        epochs=1,
        config={"batch_size": 8},
        hardware={"profile": "cpu"},
        memory={"total": 123},
    )
    clock.now += 1.5
    progress.step(1, epoch=0, loss=0.5, lr=1e-3)
    progress.evaluate(1, epoch=0, metrics={"srcc": 0.61})
    progress.checkpoint(1, REPO_ROOT / "run" / "step-1")
    progress.log("halfway", level="warning")
    progress.step(2, epoch=0, loss=0.4, lr=1e-3)
    progress.done({"model": "models/score"})

    events = lines_of(stream)
    assert [e["event"] for e in events] == [
        "start",
        "step",
        "evaluate",
        "checkpoint",
        "log",
        "step",
        "done",
    ]
    for event in events:
        assert {"event", "time", "elapsed_s"} <= event.keys()
        assert datetime.fromisoformat(event["time"]).utcoffset().total_seconds() == 0
    start, step, evaluate, checkpoint, log, _, done = events
    assert start["schema"] == PROTOCOL_VERSION
    assert start["task"] == "score" and start["total_steps"] == 2 and start["epochs"] == 1
    assert start["config"] == {"batch_size": 8} and start["memory"] == {"total": 123}
    assert start["elapsed_s"] == 0.0 and step["elapsed_s"] == 1.5
    assert step["step"] == 1 and step["loss"] == 0.5 and step["lr"] == 1e-3
    assert step["total_steps"] == 2 and step["epoch"] == 0
    assert evaluate["metrics"] == {"srcc": 0.61}
    assert checkpoint["path"] == str(REPO_ROOT / "run" / "step-1")
    assert log == {**log, "level": "warning", "message": "halfway"}
    assert done["result"] == {"model": "models/score"}
    assert "\x1b" not in stream.getvalue()


def test_eta_comes_from_the_steady_rate_and_counts_down():
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(stream, clock=clock)
    progress.start("critic", total_steps=10, epochs=1, config={}, hardware={})
    clock.now += 30.0  # a slow first step: start-up and autotuning
    first = progress.step(1, epoch=0, loss=1.0, lr=1e-4)
    assert first["steps_per_s"] is None and first["eta_s"] is None

    etas = []
    for step in range(2, 11):
        clock.now += 0.5  # then two steps a second
        event = progress.step(step, epoch=0, loss=1.0 / step, lr=1e-4)
        assert event["steps_per_s"] == pytest.approx(2.0)
        etas.append(event["eta_s"])
    assert etas == pytest.approx([(10 - step) / 2.0 for step in range(2, 11)])
    assert etas[-1] == 0


def test_values_json_cannot_hold_become_null():
    stream = io.StringIO()
    progress = Progress(stream)
    progress.step(
        1,
        epoch=0,
        loss=float("nan"),
        lr=float("inf"),
        grad_norm=torch.tensor(float("-inf")),
        accuracy=np.float32(0.25),
        seen=np.int64(32),
        per_bin=torch.tensor([1.0, float("nan")]),
    )
    line = stream.getvalue()
    assert "NaN" not in line and "Infinity" not in line
    event = json.loads(line)
    assert event["loss"] is None and event["lr"] is None and event["grad_norm"] is None
    assert event["accuracy"] == 0.25 and event["seen"] == 32
    assert event["per_bin"] == [1.0, None]


def test_step_events_are_throttled_but_the_last_one_always_comes():
    stream = io.StringIO()
    progress = Progress(stream, every=10)
    progress.start("score", total_steps=25, epochs=1, config={}, hardware={})
    returned = [progress.step(s, epoch=0, loss=0.1, lr=0.1) for s in range(1, 26)]
    steps = [e["step"] for e in lines_of(stream) if e["event"] == "step"]
    assert steps == [10, 20, 25]
    assert sum(r is not None for r in returned) == 3


def test_events_are_appended_to_a_file(tmp_path):
    path = tmp_path / "runs" / "progress.jsonl"
    with Progress(json_path=path) as first:
        first.log("one")
    with Progress(json_path=path) as second:
        second.log("two")
    messages = [e["message"] for e in read_events(path.read_text().splitlines())]
    assert messages == ["one", "two"]


def test_the_bar_writes_to_its_own_stream_never_to_the_json():
    stream, terminal = io.StringIO(), io.StringIO()
    progress = Progress(stream, bar=True, bar_stream=terminal)
    progress.start("score", total_steps=3, epochs=1, config={}, hardware={})
    for step in (1, 2, 3):
        progress.step(step, epoch=0, loss=0.3, lr=0.01)
    progress.log("saved")
    progress.done({})
    assert "saved" in terminal.getvalue()
    assert "\x1b" not in stream.getvalue()
    assert [e["event"] for e in lines_of(stream)] == [
        "start",
        "step",
        "step",
        "step",
        "log",
        "done",
    ]


def test_reader_skips_what_is_not_an_event():
    lines = [
        "UserWarning: something deprecated\n",
        '{"event": "start", "total_steps": 3}\n',
        "{not json\n",
        "[1, 2, 3]\n",
        '{"no_event": true}\n',
        b'{"event": "step", "step": 1, "loss": null}\n',
        "\n",
        '   {"event": "done", "result": {}}   ',
        b"\xff\xfe garbage bytes\n",
    ]
    events = list(read_events(lines))
    assert [e["event"] for e in events] == ["start", "step", "done"]
    assert events[1]["loss"] is None


def test_out_of_memory_becomes_advice():
    oom = torch.cuda.OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 10.75 GiB total capacity)"
    )
    message, hint = describe_failure(oom)
    assert message == "out of GPU memory"
    assert hint == oom_hint(oom)
    assert "2.00 GiB" in hint and "--batch-size" in hint and "--accumulate" in hint
    assert "--gradient-checkpointing" in hint and "smaller model" in hint
    assert failure_kind(oom) == "oom"

    runtime = RuntimeError("CUDA error: out of memory\nCUDA kernel errors might be ...")
    assert describe_failure(runtime) == ("out of GPU memory", OOM_HINT)
    assert oom_hint() == OOM_HINT


def test_other_failures_are_one_line():
    assert describe_failure(CritiqueError("ratings.csv: no 'score' column")) == (
        "ratings.csv: no 'score' column",
        None,
    )
    assert describe_failure(ValueError("bad value\n  with details")) == (
        "ValueError: bad value",
        None,
    )
    assert describe_failure(KeyError()) == ("KeyError", None)
    assert failure_kind(CritiqueError("x")) == "user"
    assert failure_kind(ValueError("x")) == "internal"


def test_fail_reports_an_exception_as_an_error_event():
    stream = io.StringIO()
    Progress(stream).fail(torch.cuda.OutOfMemoryError("CUDA out of memory."))
    (event,) = lines_of(stream)
    assert event["event"] == "error"
    assert event["message"] == "out of GPU memory"
    assert event["kind"] == "oom" and "--batch-size" in event["hint"]


def test_a_subprocess_with_piped_stdout_gives_clean_events():
    """What the wizard does: run training as a child and read its stdout."""
    script = textwrap.dedent(
        """
        import sys
        from train.progress import Progress
        print("a library's stray print")
        progress = Progress(sys.stdout, bar=None)
        progress.start("score", total_steps=2, epochs=1, config={}, hardware={})
        progress.step(1, epoch=0, loss=float("nan"), lr=0.1)
        progress.step(2, epoch=0, loss=0.2, lr=0.1)
        progress.done({"ok": True})
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "\x1b" not in child.stdout and "\x1b" not in child.stderr  # no terminal: no bar
    events = list(read_events(child.stdout.splitlines()))
    assert [e["event"] for e in events] == ["start", "step", "step", "done"]
    assert events[1]["loss"] is None
