"""MediaPipe's four .tflite models run with LiteRT, one interpreter set per thread.

LiteRT interpreters are not thread-safe, so each thread that reads faces builds its
own (a few milliseconds, once per thread); a model that will not load is one
:class:`ModelError` naming the file and the store entry to pull again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from critique_app.core.util.errors import ModelError

STORE_NAME = "mediapipe-face"
FULL_RANGE = "face_detection_full_range_sparse.tflite"
SHORT_RANGE = "face_detection_short_range.tflite"
LANDMARKS = "face_landmark.tflite"
IRIS = "iris_landmark.tflite"
# Bumped whenever the reading changes for the same models (crops, thresholds, tiles),
# so caches keyed on FaceModels.version miss.
PIPELINE_VERSION = "faces-2"  # 2: full-range + short-range detectors, no short-range tiles
FILES = (FULL_RANGE, SHORT_RANGE, LANDMARKS, IRIS)


def runtime_missing() -> str | None:
    """Why LiteRT cannot run here (its wheel is missing for this platform), or None."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: F401
    except ImportError as error:
        return f"LiteRT (ai-edge-litert) is not installed here ({error.msg})"
    return None


@dataclass(frozen=True)
class Interpreters:
    full_range: object
    short_range: object
    landmarks: object
    iris: object


class FaceModels:
    """The folder holding the four models; ``interpreters()`` gives this thread's set."""

    def __init__(self, folder: Path, name: str = STORE_NAME) -> None:
        self.folder = Path(folder)
        self.name = name
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"FaceModels({str(self.folder)!r})"

    def complete(self) -> bool:
        """Whether every model file is there (an install from before the full-range
        detector was added has only three)."""
        return all((self.folder / f).is_file() for f in FILES)

    @property
    def version(self) -> str:
        """Names this reading for caches: the pipeline's version and the models' sizes."""
        sizes = [(self.folder / f).stat().st_size if (self.folder / f).is_file() else 0
                 for f in FILES]
        return f"{PIPELINE_VERSION}-" + ".".join(map(str, sizes))

    def interpreters(self) -> Interpreters:
        found = getattr(self._local, "interpreters", None)
        if found is None:
            found = Interpreters(*(self._load(f) for f in FILES))
            self._local.interpreters = found
        return found

    def _load(self, filename: str):
        from ai_edge_litert.interpreter import Interpreter

        path = self.folder / filename
        try:
            interpreter = Interpreter(model_path=str(path), num_threads=1)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError, OSError) as error:
            why = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ModelError(f"the face model {filename} of '{self.name}' could not be loaded "
                             f"({why}); run: critique models pull {self.name}",
                             path=path) from None
        return interpreter


def run(interpreter, image: np.ndarray) -> list[np.ndarray]:
    """The model's outputs for one float32 HxWx3 image, smallest output last."""
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None])
    interpreter.invoke()
    outputs = [interpreter.get_tensor(d["index"])[0] for d in interpreter.get_output_details()]
    return sorted(outputs, key=lambda o: -o.size)
