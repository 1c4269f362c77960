"""How fast each score model scores on this machine, as measured by folder scoring.

Stored in ``data_dir()/speeds.json`` (written atomically), one entry per model name:
``{"seconds_per_photo": 1.2, "device": "CPU, 2 cores", "measured": "2026-12-07"}``.
A model's card shows :func:`read_speed` ("not measured yet" until it returns text).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from pathlib import Path

from critique_app.core.util.files import write_text_atomically
from critique_app.core.util.paths import data_dir

SPEEDS = "speeds.json"
MIN_PHOTOS = 8  # fewer photos measure the warm-up more than the model
log = logging.getLogger("critique.scoring")
_lock = threading.Lock()


def describe_device(device: str = "cpu") -> str:
    """Where a model runs, as a speed note says it: "CPU, 2 cores" or "CUDA (<GPU name>)"."""
    if device == "cuda":
        import torch

        return f"CUDA ({torch.cuda.get_device_name(0)})"
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return f"CPU, {cores} core{'s' if cores != 1 else ''}"


def speeds_path() -> Path:
    return data_dir() / SPEEDS


def _read_all() -> dict:
    try:
        data = json.loads(speeds_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_speed(name: str, device: str, seconds_per_photo: float) -> None:
    """Remember that ``name`` took ``seconds_per_photo`` on ``device`` ("CPU, 2 cores")."""
    if not seconds_per_photo > 0:
        return
    with _lock:
        data = _read_all()
        data[name] = {"seconds_per_photo": round(float(seconds_per_photo), 4), "device": device,
                      "measured": dt.date.today().isoformat()}
        try:
            write_text_atomically(speeds_path(), json.dumps(data, indent=1, sort_keys=True))
        except OSError as error:  # a speed note is never worth failing a folder over
            log.warning("could not record the speed of %s: %s", name, error)


def speed_record(name: str) -> dict | None:
    """The stored measurement of ``name`` (seconds_per_photo, device, measured), or None."""
    entry = _read_all().get(name)
    if not isinstance(entry, dict) or not isinstance(entry.get("seconds_per_photo"),
                                                     int | float):
        return None
    return entry


def read_speed(name: str) -> str | None:
    """``"1.2 s a photo on CPU, 2 cores, measured 2026-12-07"``, or None when not measured."""
    entry = speed_record(name)
    if entry is None:
        return None
    seconds = float(entry["seconds_per_photo"])
    amount = f"{seconds:.2g}" if seconds < 0.1 else f"{seconds:.1f}"
    return (f"{amount} s a photo on {entry.get('device') or 'this machine'}, "
            f"measured {entry.get('measured') or 'earlier'}")
