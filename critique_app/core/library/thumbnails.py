"""Small previews for the filmstrip, cached on disk as JPEG files.

A cache file is named by a hash of the resolved path, the size asked for and the
file's size and modification time, so an edited photo gets a new thumbnail and
the old one is simply never read again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

from critique_app.core.photo import load_photo
from critique_app.core.photo.decoded import to_uint8
from critique_app.core.util.files import atomic_path
from critique_app.core.util.paths import data_dir

DEFAULT_SIZE = 160
JPEG_QUALITY = 90


def cache_dir() -> Path:
    return data_dir() / "thumbnails"


def thumbnail(path: Path, size: int = DEFAULT_SIZE) -> np.ndarray:
    """Uint8 RGB, longest side at most ``size``; unreadable photos raise PhotoError."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        stat = None  # load_photo says why, in one line
    cached = cache_dir() / f"{_key(path, size, stat)}.jpg" if stat else None
    if cached is not None:
        pixels = _read_cached(cached, size)
        if pixels is not None:
            return pixels
    pixels = to_uint8(load_photo(path, max_side=size).pixels)
    if cached is not None:
        _write_atomic(cached, pixels)
    return pixels


def _key(path: Path, size: int, stat: os.stat_result) -> str:
    digest = hashlib.sha256(os.fsencode(path.resolve()))
    digest.update(f"|{size}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def _read_cached(cached: Path, size: int) -> np.ndarray | None:
    """The cached pixels, or None if missing or unreadable (it is then rewritten)."""
    try:
        with Image.open(cached) as image:
            pixels = np.asarray(image.convert("RGB"))
    except (OSError, SyntaxError, ValueError):
        return None
    if pixels.ndim != 3 or max(pixels.shape[:2]) > size or min(pixels.shape[:2]) < 1:
        return None
    return pixels


def _write_atomic(target: Path, pixels: np.ndarray) -> None:
    """Best effort: a cache that cannot be written only costs a decode next time."""
    with contextlib.suppress(OSError), atomic_path(target, durable=False) as temporary:
        Image.fromarray(pixels).save(temporary, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
