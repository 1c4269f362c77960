"""The decoded photo the rest of the core works on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

_REC709_LUMA = np.array([[0.2126, 0.7152, 0.0722]], np.float32)


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Float values in [0, 1] (clipped) to rounded uint8 0-255."""
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@dataclass(frozen=True)
class ExifSummary:
    """The shooting facts a photographer looks for; ``None`` where absent."""

    camera: str | None = None
    lens: str | None = None
    focal_length_mm: float | None = None
    focal_length_35mm: float | None = None
    aperture_f: float | None = None
    shutter_s: float | None = None
    iso: int | None = None
    taken_at: str | None = None  # ISO 8601, camera local time (EXIF has no zone)
    # Culling orders a burst's frames by these: cameras shoot several frames a second
    taken_subsec: float | None = None  # fraction of a second to add to taken_at, 0 <= x < 1
    taken_offset: str | None = None  # camera's UTC offset, "+02:00", when it wrote one
    exposure_bias_ev: float | None = None  # exposure compensation (brackets step it)
    serial: str | None = None  # camera body serial: tells two bodies of one model apart
    flash_fired: bool | None = None  # EXIF Flash (0x9209) bit 0; None when not recorded

    @property
    def shutter_text(self) -> str | None:
        if not self.shutter_s:
            return None
        if self.shutter_s >= 1:
            return f"{self.shutter_s:g} s"
        return f"1/{round(1 / self.shutter_s)} s"

    def is_empty(self) -> bool:
        return all(v is None for v in asdict(self).values())

    def to_dict(self) -> dict:
        data = asdict(self)
        data["shutter"] = self.shutter_text
        return data


@dataclass
class Photo:
    """An upright, sRGB, analysis-size version of a photo file.

    ``pixels`` is float32 RGB in [0, 1], shape (height, width, 3), with EXIF
    orientation applied and any embedded colour profile converted to sRGB.
    ``original_size`` is the full upright size (width, height) of the file.
    """

    path: Path
    format: str
    original_size: tuple[int, int]
    pixels: np.ndarray
    bit_depth: int = 8
    file_size: int = 0
    decode_scale: float = 1.0  # decoded pixels per original pixel (JPEG draft, RAW half size)
    decoded_from: str = "image"  # "image", "raw-preview" or "raw-demosaic"
    notes: list[str] = field(default_factory=list)
    exif: ExifSummary = field(default_factory=ExifSummary)

    @property
    def size(self) -> tuple[int, int]:
        """Analysis size as (width, height)."""
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def scale(self) -> float:
        """Analysis pixels per original pixel (<= 1)."""
        return self.pixels.shape[1] / self.original_size[0]

    @property
    def megapixels(self) -> float:
        return self.original_size[0] * self.original_size[1] / 1e6

    def to_uint8(self) -> np.ndarray:
        return to_uint8(self.pixels)

    def luminance(self) -> np.ndarray:
        """Rec. 709 luma of the gamma-encoded sRGB values, float32 in [0, 1]."""
        return cv2.transform(self.pixels, _REC709_LUMA).reshape(self.pixels.shape[:2])

    def describe(self) -> dict:
        return {
            "path": str(self.path),
            "format": self.format,
            "width": self.original_size[0],
            "height": self.original_size[1],
            "megapixels": round(self.megapixels, 2),
            "bit_depth": self.bit_depth,
            "file_size_bytes": self.file_size,
            "analysis_width": self.size[0],
            "analysis_height": self.size[1],
            "decode_scale": round(self.decode_scale, 4),
            "source": self.decoded_from,  # the JSON key stays "source"
            "notes": list(self.notes),
            "exif": self.exif.to_dict(),
        }
