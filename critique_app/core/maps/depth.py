"""Relative depth from a transformers depth-estimation model on disk.

The model directory is a standard ``save_pretrained`` folder (config.json,
model.safetensors, preprocessor_config.json), e.g. Depth-Anything-V2-Small-hf,
loaded through the Auto classes with no remote code and no network
(``local_files_only=True``: nothing here depends on process-wide offline flags).
With no model installed, or a damaged one, the modality is "unavailable" and
says why and how to get a working one: a depth map is never invented.
"""

from __future__ import annotations

import json
import os
import threading
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from critique_app.core.maps.base import (
    OK,
    MapResult,
    map_stats,
    sample,
    unavailable,
)
from critique_app.core.photo.decoded import to_uint8
from critique_app.core.util.errors import CritiqueError, ModelError, check_cancelled
from critique_app.core.util.paths import models_dir

MEANING = "nearest"
DEFAULT_DEPTH_DIR_NAME = "depth"
# Which way a model's raw output runs, by config. Depth Anything (and Prompt Depth
# Anything) checkpoints say it themselves in ``depth_estimation_type``: "relative"
# ones give disparity (near = large), "metric" ones give metres (far = large), and
# both share the model_type "depth_anything". For model types without that field:
FAR_IS_LARGE_TYPES = {"glpn", "zoedepth"}  # metric distances
NEAR_IS_LARGE_TYPES = {"dpt", "depth_anything", "prompt_depth_anything",
                       "depth_pro"}  # relative inverse depth; Depth Pro's raw output
# is inverse depth too (its processor's post-processing takes 1 / output for metres)


def near_is_large(config) -> tuple[bool, bool]:
    """(whether larger raw output means nearer, whether that is known rather than assumed)
    for a transformers depth model config."""
    kind = getattr(config, "depth_estimation_type", None)
    if kind in ("relative", "metric"):
        return kind == "relative", True
    model_type = getattr(config, "model_type", "")
    if model_type in FAR_IS_LARGE_TYPES:
        return False, True
    return True, model_type in NEAR_IS_LARGE_TYPES


def to_nearness(predicted: np.ndarray, size: tuple[int, int], *,
                near_is_large: bool) -> np.ndarray:
    """A model's raw output (h, w) -> the depth map at ``size`` (width, height) in [0, 1],
    1 = nearest, stretched between the 1st and 99th percentiles.

    Metric depth (far = large) is inverted as 1 / depth, so equal steps of the map are
    equal steps of disparity, the same scale a relative model's output has."""
    depth = np.asarray(predicted, np.float32)
    if not near_is_large:
        depth = 1.0 / np.maximum(depth, np.float32(1e-3))
    depth = cv2.resize(depth, size, interpolation=cv2.INTER_CUBIC)
    low, high = np.percentile(sample(depth), [1, 99])
    if high - low < 1e-9:
        return np.zeros(depth.shape, np.float32)
    return np.clip((depth - low) / (high - low), 0, 1).astype(np.float32)


def default_model_dir() -> Path:
    return models_dir() / DEFAULT_DEPTH_DIR_NAME


def find_depth_model(explicit: str | Path | None = None) -> Path | None:
    """The depth model folder to use: explicit, $CRITIQUE_DEPTH_MODEL, or the default.

    A folder the user named and that holds no model is an error, never a silent
    fall-back to another model.
    """
    if explicit:
        if not (Path(explicit) / "config.json").is_file():
            raise ModelError(f"no depth model found at {explicit} (expected a config.json there)")
        return Path(explicit)
    for candidate in (os.environ.get("CRITIQUE_DEPTH_MODEL"), _store_depth_model(),
                      default_model_dir()):
        if candidate and (Path(candidate) / "config.json").is_file():
            return Path(candidate)
    return None


def _store_depth_model() -> Path | None:
    """The first depth model installed with `critique models pull` (or the Models dialog)."""
    from critique_app.core.store.store import ModelStore

    try:
        store = ModelStore()
        installed = store.installed_for_task("depth")
        return store.path(installed[0]) if installed else None
    except CritiqueError:  # an unreadable manifest must not break the other overlays
        return None


class DepthModel:
    """A depth-estimation model loaded once and reused; thread-safe to call.

    Raises :class:`ModelError` ("<model> could not be loaded: <cause>") for a folder
    that holds no usable model: damaged or missing weights, no processor, not a depth
    architecture."""

    def __init__(self, model_dir: Path, device: str = "cpu") -> None:
        from critique_app.core.util.hf import import_transformers

        self.model_dir = Path(model_dir)
        try:
            transformers = import_transformers()
            import torch

            self.device = torch.device(device)
            self.processor = transformers.AutoImageProcessor.from_pretrained(
                self.model_dir, local_files_only=True
            )
            self.model = transformers.AutoModelForDepthEstimation.from_pretrained(
                self.model_dir, local_files_only=True, use_safetensors=True
            )
        except Exception as error:  # many failure types: missing files, bad config, ...
            raise ModelError(f"{self.model_dir.name} could not be loaded: "
                             f"{_load_failure(self.model_dir, error)}") from error
        self.model.to(self.device).eval()
        self.model_type = self.model.config.model_type
        self.near_is_large, self.convention_known = near_is_large(self.model.config)
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        name = f"{self.model_type} ({self.model_dir.name})"
        if not self.convention_known:  # an architecture this app does not know
            name += ", assuming larger output = nearer"
        return name

    def predict(self, rgb: np.ndarray, cancel=None) -> np.ndarray:
        """float32 RGB (H, W, 3) in [0, 1] -> relative depth (H, W) in [0, 1], 1 = nearest."""
        import torch

        inputs = self.processor(images=to_uint8(rgb), return_tensors="pt").to(self.device)
        check_cancelled(cancel)
        with self._lock, torch.inference_mode():
            predicted = self.model(**inputs).predicted_depth
        depth = predicted.squeeze().float().cpu().numpy()
        if not np.all(np.isfinite(depth)):
            raise ModelError(f"the depth model {self.name} produced invalid values")
        return to_nearness(depth, (rgb.shape[1], rgb.shape[0]), near_is_large=self.near_is_large)


def _load_failure(folder: Path, error: Exception) -> str:
    """Why a depth model folder did not load, in words, from what is on disk."""
    try:
        model_type = json.loads((folder / "config.json").read_text("utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return "its config.json is unreadable or not valid JSON"
    try:
        from transformers.models.auto.modeling_auto import (
            MODEL_FOR_DEPTH_ESTIMATION_MAPPING_NAMES as depth_types,
        )
    except Exception:  # transformers itself is broken: its own message says more
        return _first_line(error)
    if model_type not in depth_types:
        return (f"its config.json describes a {model_type or 'nameless'!r} model, "
                "not a depth-estimation model")
    if not (folder / "preprocessor_config.json").is_file():
        return "preprocessor_config.json is missing"
    weights = folder / "model.safetensors"
    if not weights.is_file() and not (folder / "model.safetensors.index.json").is_file():
        return "model.safetensors is missing"
    if weights.is_file():
        from safetensors import safe_open

        try:
            with safe_open(str(weights), framework="pt") as handle:
                handle.keys()
        except Exception as damaged:
            return (f"model.safetensors is damaged or incomplete ({_first_line(damaged)}); "
                    "the download may have been cut short")
    return _first_line(error)


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


_loading = threading.Lock()
# Folders that failed to load, by their files' sizes and times: a damaged model is
# tried once, not once per photo of a batch, and tried again once its files change.
_failed: dict[tuple, ModelError] = {}


def load_depth_model(model_dir: Path, device: str = "cpu") -> DepthModel:
    """The loaded model for a folder, loaded once per process. Loading is serialised:
    threads asking at once (folder scoring's decoders) share one load instead of racing
    through transformers' lazy imports and loading the weights twice."""
    model_dir = Path(model_dir)
    with _loading:
        key = (model_dir, device, files_signature(model_dir))
        if key in _failed:
            raise _failed[key]
        try:
            return _load(model_dir, device)
        except ModelError as error:
            _failed[key] = error
            raise


def files_signature(folder: Path) -> str:
    """The state of a model folder's files (names, sizes, modification times), without
    reading 100 MB of weights: it changes when the model is replaced or repaired."""
    try:
        entries = sorted((entry.name, entry.stat()) for entry in folder.iterdir()
                         if entry.is_file())
    except OSError:
        return "unreadable"
    return ";".join(f"{name}:{stat.st_size}:{stat.st_mtime_ns}" for name, stat in entries)


@lru_cache(maxsize=2)
def _load(model_dir: Path, device: str) -> DepthModel:
    return DepthModel(model_dir, device)


def compute_depth(rgb: np.ndarray, model_dir: Path | None, cancel=None) -> MapResult:
    method = "depth-estimation model"
    if model_dir is None:
        return unavailable(
            "depth",
            method,
            MEANING,
            reason="no depth model is installed",
            hint=(
                "pull one with 'critique models pull depth-anything-v2-small' (Tools ▸ Models… in "
                "the app), or point CRITIQUE_DEPTH_MODEL or --depth-model at a transformers "
                "depth model folder"
            ),
        )
    try:
        model = load_depth_model(Path(model_dir))
    except ModelError as error:
        return unavailable(
            "depth", method, MEANING, reason=str(error),
            hint=(f"reinstall the model (Tools ▸ Models… in the app, or 'critique models pull'), "
                  f"or point CRITIQUE_DEPTH_MODEL or --depth-model at a working model folder; "
                  f"the folder is {model_dir}"),
        )
    depth = model.predict(rgb, cancel=cancel)
    stats = map_stats(depth)
    stats["near_share_pct"] = stats.pop("share_above_half_pct")
    stats["range_p5_p95"] = round(float(np.subtract(*np.percentile(sample(depth), [95, 5]))), 4)
    return MapResult("depth", OK, f"{method}: {model.name}", MEANING, map=depth, stats=stats)
