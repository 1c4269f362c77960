"""The trainer's progress protocol: the one description both sides import.

The trainer (``python -m train ... --progress json``, ``train/progress.py``)
writes it and the app (:mod:`critique_app.core.finetuning.events`, the
fine-tuning wizard) reads it. It is JSON lines: every event is one complete
JSON object on one line, flushed at once, e.g.::

    {"event": "step", "time": "2025-01-01T12:00:03.120Z", "elapsed_s": 3.12,
     "step": 10, "total_steps": 500, "epoch": 0, "loss": 0.81, "lr": 0.0002,
     "steps_per_s": 3.4, "eta_s": 144.1}

Every line carries :data:`COMMON_FIELDS`; :data:`EVENTS` names each event and
its own fields. The ``start`` event carries the protocol's version in
:data:`VERSION_FIELD`; the app checks it with :func:`version_problem`, so an
app and a trainer from different versions of Critique say so instead of
misreading each other. Values JSON cannot hold (NaN and infinite losses) are
written as ``null``. A reader skips lines that are not events (a library's
stray print) and events it does not know (:func:`parse_event`).

Change :data:`PROTOCOL_VERSION` whenever an event or field changes meaning or
goes away; adding an event or a field that old readers may ignore does not
need a new version.
"""

from __future__ import annotations

import json

PROTOCOL_VERSION = 1
VERSION_FIELD = "schema"  # in the start event; its name is part of the wire format

COMMON_FIELDS = ("event", "time", "elapsed_s")  # the event's name, ISO-8601 UTC, seconds in

EVENTS: dict[str, tuple[str, ...]] = {
    # the run begins: what it trains, for how long, on what, and its memory estimate
    "start": (VERSION_FIELD, "task", "total_steps", "epochs", "config", "hardware", "memory",
              "pid"),
    # the dataset's validation report (a run sends it before start)
    "validation": ("kind", "format", "source", "counts", "preview", "errors"),
    # the critic's estimate of peak GPU memory, in bytes, part by part
    "memory_estimate": ("parameters", "gradients", "optimizer_states", "activations",
                        "transient", "workspace", "notes", "total"),
    # ``step`` optimizer steps are done (counted from 1); rate and ETA are null at first
    "step": ("step", "total_steps", "epoch", "loss", "lr", "steps_per_s", "eta_s"),
    # held-out metrics after ``step`` steps
    "evaluate": ("step", "epoch", "metrics"),
    # a checkpoint was written
    "checkpoint": ("step", "path"),
    # a message for the person watching; level: info, warning or error
    "log": ("level", "message"),
    # the run ended; result: model_dir (None when stopped early), stopped_early, steps,
    # metrics, baseline_metrics, ...
    "done": ("result",),
    # the run failed: one line, a hint what to do, a kind (oom, user, data, interrupted, ...)
    "error": ("message", "hint", "kind"),
}


def parse_event(line: str) -> dict | None:
    """One event from one line of output, or None for anything that is not one."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("event"), str) else None


def version_problem(start: dict) -> str | None:
    """What is wrong with a ``start`` event's protocol version, or None when it is this one."""
    version = start.get(VERSION_FIELD)
    if version == PROTOCOL_VERSION:
        return None
    said = (f"speaks progress protocol {version}" if version is not None
            else "does not say which progress protocol it speaks")
    return (f"the trainer {said}, but this app reads protocol {PROTOCOL_VERSION}: its "
            "progress may be shown wrongly; run the trainer from the same version of "
            "Critique as the app")
