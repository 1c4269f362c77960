"""Photos (or their saliency, depth and blur maps) as network inputs, the way the app
computes them, with a disk cache so later epochs skip decoding and map-making.

The maps are made by the app's own code from the photo at analysis size
(``load_photo``'s default), then squashed to the network's square input exactly as
the app's scorer does, so a modality scorer sees at training time what it will
see in the app.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from critique_app.core.photo import load_photo
from critique_app.core.scoring.backbone import InputSpec
from critique_app.core.scoring.preprocess import to_network_input
from critique_app.core.util.files import atomic_path

RAW_SPEC_MEAN, RAW_SPEC_STD = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)


def modality_pixels(path: Path, modality: str, depth_model: Path | None = None):
    """The photo's pixels (H, W, 3) or one of its maps (H, W), all in [0, 1]."""
    from critique_app.core.maps import compute_blur, compute_depth, compute_saliency
    from critique_app.core.util.errors import ModelError

    photo = load_photo(path)
    if modality == "photo":
        return photo.pixels
    if modality == "blur":
        return compute_blur(photo.luminance(), photo.scale).map
    if modality == "saliency":
        return compute_saliency(photo.pixels).map
    if modality == "depth":
        result = compute_depth(photo.pixels, depth_model)
        if not result.available:
            raise ModelError(f"no depth map for training: {result.reason}")
        return result.map
    raise ValueError(f"unknown modality {modality!r}")


class InputCache:
    """Squashed [0, 1] inputs as raw uint8 files (one channel for maps, three for a
    photo), keyed by the file's path, size and modification time, the modality and
    the input size.

    Raw bytes, not ``.npy``: ``np.load`` parses each header with ``ast``, and
    Python 3.11.7 and older can raise "AST constructor recursion depth mismatch"
    when threads do that at the same time (CPython gh-106905), which the parallel
    input check before training does."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = Path(folder) if folder else None

    def _key(self, path: Path, modality: str, size: int) -> Path:
        stat = path.stat()
        text = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{modality}|{size}"
        digest = hashlib.sha1(text.encode()).hexdigest()
        return self.folder / modality / digest[:2] / f"{digest}.u8"

    def square(self, path: Path, modality: str, size: int, depth_model=None) -> np.ndarray:
        """float32 (3, S, S) in [0, 1]: the input before normalisation."""
        cached = self._key(path, modality, size) if self.folder else None
        if cached is not None and cached.is_file():
            try:
                channels = 3 if modality == "photo" else 1
                values = np.fromfile(cached, dtype=np.uint8)
                return _expand(values.reshape(channels, size, size))
            except (OSError, ValueError):
                pass  # a damaged cache file is simply made again
        raw_spec = InputSpec(size, RAW_SPEC_MEAN, RAW_SPEC_STD)
        square = to_network_input(modality_pixels(path, modality, depth_model), raw_spec)
        stored = np.clip(np.round(square * 255.0), 0, 255).astype(np.uint8)
        if modality != "photo":
            stored = stored[:1]
        if cached is not None:
            # Workers may make the same entry at once: each writes its own temporary file.
            # A cache is cheap to rebuild, so no fsync per photo (durable=False).
            with atomic_path(cached, durable=False) as temporary:
                temporary.write_bytes(np.ascontiguousarray(stored).tobytes())
        return _expand(stored)


def _expand(stored: np.ndarray) -> np.ndarray:
    values = stored.astype(np.float32) / 255.0
    return np.repeat(values, 3, axis=0) if values.shape[0] == 1 else values


def normalise(square: np.ndarray, spec: InputSpec) -> np.ndarray:
    mean = np.asarray(spec.mean, np.float32)[:, None, None]
    std = np.asarray(spec.std, np.float32)[:, None, None]
    return (square - mean) / std
