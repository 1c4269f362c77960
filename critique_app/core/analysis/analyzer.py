"""Photo -> maps + measurements, in one cancellable call.

The GUI runs :func:`analyze` on a worker thread and the CLI runs it directly;
``progress(step, fraction)`` reports where it is, ``cancel`` (an Event) stops it
between steps.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from critique_app.core.maps import (
    MapResult,
    compute_blur,
    compute_depth,
    compute_saliency,
    find_depth_model,
)
from critique_app.core.maps.base import FAILED
from critique_app.core.measurements import with_units
from critique_app.core.measurements.color import measure_color
from critique_app.core.measurements.exposure import measure_exposure
from critique_app.core.measurements.horizon import measure_horizon
from critique_app.core.measurements.noise import measure_noise
from critique_app.core.measurements.sharpness import measure_sharpness
from critique_app.core.measurements.subject import measure_subject
from critique_app.core.photo import Photo, load_photo
from critique_app.core.util.errors import Cancelled, CritiqueError, check_cancelled

Progress = Callable[[str, float], None]
log = logging.getLogger("critique.analysis")


@dataclass
class Analysis:
    """One photo's maps and measurements. Treat it as immutable once returned: it is
    handed between threads (the GUI shows it while a critique reads it), so a later
    result makes a new Analysis (:meth:`with_map`) instead of changing this one."""

    photo: Photo
    maps: dict[str, MapResult]
    measurements: dict[str, object]  # flat "group.name" -> value; units in measurements.SPECS
    timings: dict[str, float] = field(default_factory=dict)

    def with_map(self, result: MapResult, seconds: float | None = None) -> Analysis:
        """A new Analysis with ``result`` added (or replaced); this one is left as it was."""
        timings = dict(self.timings)
        if seconds is not None:
            timings[result.name] = seconds
        return dataclasses.replace(self, maps={**self.maps, result.name: result},
                                   timings=timings)

    def score_inputs(self) -> dict[str, object]:
        """What each score model looks at: the photo's pixels and every available map."""
        inputs = {"photo": self.photo.pixels}
        inputs.update({name: m.map for name, m in self.maps.items() if m.available})
        return inputs

    def to_dict(self) -> dict:
        return {
            "photo": self.photo.describe(),
            "measurements": with_units(self.measurements),
            "modalities": {name: result.to_dict() for name, result in self.maps.items()},
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
        }


def analyze(
    source: str | Path | Photo,
    *,
    depth: bool = True,
    depth_model: str | Path | None = None,
    saliency_backend: str = "classical",
    cancel=None,
    progress: Progress | None = None,
) -> Analysis:
    """Analyse a photo (a path or an already loaded :class:`Photo`)."""
    timings: dict[str, float] = {}

    def step(name: str, fraction: float):
        check_cancelled(cancel)
        if progress:
            progress(name, fraction)
        return _Timer(timings, name)

    with step("load", 0.0):
        photo = source if isinstance(source, Photo) else load_photo(source)
    rgb, luma = photo.pixels, photo.luminance()

    maps: dict[str, MapResult] = {}
    values: dict[str, object] = {}
    # The classical steps are independent and spend their time in OpenCV/numpy,
    # which release the GIL; three workers keep two cores busier than two do, since
    # each job also holds the GIL for short Python stretches.
    with step("maps and measurements", 0.1):
        pool = _workers()
        blur_job = pool.submit(_timed, timings, "blur", compute_blur, luma, photo.scale)
        saliency_job = pool.submit(_timed, timings, "saliency and subject", _saliency_and_subject,
                                   rgb, saliency_backend)
        measurement_jobs = [
            pool.submit(_timed, timings, "exposure", measure_exposure, rgb, luma),
            pool.submit(_timed, timings, "colour", measure_color, rgb),
            pool.submit(_timed, timings, "noise", measure_noise, luma),
            pool.submit(_timed, timings, "tilt", measure_horizon, luma),
        ]
        maps["saliency"], subject = saliency_job.result()
        maps["blur"] = blur_job.result()
        for job in measurement_jobs:
            values.update(job.result())
        values.update(subject)
        values.update(measure_sharpness(maps["blur"], maps["saliency"].map))
    if depth:
        with step("depth", 0.6):
            maps["depth"] = _depth(rgb, depth_model, cancel)
    if progress:
        progress("done", 1.0)
    return Analysis(photo, maps, values, timings)


@functools.cache
def _workers() -> ThreadPoolExecutor:
    """One pool for the life of the process: starting threads per photo costs more
    than some of the steps. Jobs never wait on each other, so sharing it between
    concurrent analyses cannot deadlock."""
    return ThreadPoolExecutor(max_workers=3, thread_name_prefix="critique-analysis")


def _saliency_and_subject(rgb, backend: str) -> tuple[MapResult, dict[str, object]]:
    saliency = compute_saliency(rgb, backend)
    return saliency, measure_subject(saliency.map)


def _timed(timings: dict[str, float], name: str, function, *args):
    with _Timer(timings, name):
        return function(*args)


def estimate_depth(rgb, depth_model: str | Path | None = None, cancel=None) -> MapResult:
    """Depth on its own, for callers that show the fast maps first (the GUI)."""
    return _depth(rgb, depth_model, cancel)


def _depth(rgb, depth_model, cancel) -> MapResult:
    """Depth is optional: a missing or broken model is reported, not fatal."""
    try:
        return compute_depth(rgb, find_depth_model(depth_model), cancel=cancel)
    except Cancelled:
        raise
    except CritiqueError as error:
        reason = str(error)
    except Exception as error:  # a model that loads but fails to run
        log.exception("the depth model failed")
        reason = f"the depth model failed: {type(error).__name__}: {error}".splitlines()[0]
    return MapResult("depth", FAILED, "depth-estimation model", "nearest", reason=reason,
                          hint="check the model folder, or reinstall the depth model")


class _Timer:
    def __init__(self, timings: dict[str, float], name: str) -> None:
        self.timings, self.name = timings, name

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.timings[self.name] = time.perf_counter() - self.start
        return False
