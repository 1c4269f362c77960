"""EXIF: the orientation to apply, and a short summary of how the photo was shot.

A broken EXIF block never stops a photo from loading, and never goes unsaid:
:func:`read_exif` returns a note for the photo that names what went wrong and
what was not used because of it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from critique_app.core.photo.decoded import ExifSummary

ORIENTATION_TAG = 0x0112
_EXIF_IFD = 0x8769
_IFD0 = {"make": 0x010F, "model": 0x0110, "datetime": 0x0132}
_EXIF = {
    "exposure_time": 0x829A,
    "f_number": 0x829D,
    "iso": 0x8827,
    "datetime_original": 0x9003,
    "offset_time": 0x9010,
    "offset_time_original": 0x9011,
    "exposure_bias": 0x9204,
    "flash": 0x9209,
    "subsec_time": 0x9290,
    "subsec_time_original": 0x9291,
    "body_serial": 0xA431,
    "focal_length": 0x920A,
    "focal_length_35mm": 0xA405,
    "lens_make": 0xA433,
    "lens_model": 0xA434,
}


_TIFF_HEADER = 8  # byte order, magic number, offset of the first directory
_CAUSE_CHARS = 120


@dataclass(frozen=True)
class ExifReading:
    """What a file's EXIF says, and ``notes`` on anything in it that could not be used."""

    orientation: int = 1
    summary: ExifSummary = field(default_factory=ExifSummary)
    notes: tuple[str, ...] = ()


def read_exif(image: Image.Image) -> ExifReading:
    """Orientation (1-8, 1 when absent) and shooting facts from an opened image's EXIF."""
    with warnings.catch_warnings(record=True) as complaints:
        warnings.simplefilter("always")
        try:
            exif = image.getexif()
            sub = exif.get_ifd(_EXIF_IFD) if exif else {}
        except Exception as error:  # Pillow raises many kinds on a broken block
            return ExifReading(notes=(_unreadable(_cause(error)),))
    problem = _parse_problem(image.info.get("exif")) or _first(complaints)
    if not exif and not sub:
        return ExifReading(notes=(_unreadable(problem),) if problem else ())
    notes = []
    if problem:
        notes.append(f"EXIF partly unreadable: {problem}; the tags that could be read are used")
    orientation = exif.get(ORIENTATION_TAG, 1)
    if orientation not in range(1, 9):
        notes.append(f"EXIF orientation {_shorten(repr(orientation))} is not one of the valid "
                     "values 1-8, so the photo is shown as stored")
        orientation = 1
    try:
        summary = _summary(exif, sub)
    except Exception as error:  # an odd tag type must not cost the photo
        notes.append(f"EXIF capture data unreadable: {_cause(error)}; camera, lens and exposure "
                     "are not shown")
        summary = ExifSummary()
    return ExifReading(orientation=int(orientation), summary=summary, notes=tuple(notes))


def _parse_problem(stored) -> str | None:
    """Why an embedded EXIF block (JPEG APP1, PNG eXIf, WebP, HEIF) does not parse cleanly.

    Pillow often parses the block while opening the file, keeps an empty result when
    that fails and only warns once, so the block is parsed again here to hear why.
    """
    if not isinstance(stored, bytes | bytearray):
        return None
    payload = bytes(stored).removeprefix(b"Exif\x00\x00")
    if not payload:
        return None
    if len(payload) < _TIFF_HEADER:
        return f"the block is only {len(payload)} bytes long"
    with warnings.catch_warnings(record=True) as complaints:
        warnings.simplefilter("always")
        try:
            probe = Image.Exif()
            probe.load(payload)
            if probe:
                probe.get_ifd(_EXIF_IFD)
        except Exception as error:
            return _cause(error)
    if complaints:
        return _first(complaints)
    return None if probe else "no tags could be read from it"


def _unreadable(cause: str) -> str:
    return f"EXIF unreadable: {cause}; orientation and capture data not used"


def _first(complaints: list[warnings.WarningMessage]) -> str | None:
    return _shorten(" ".join(str(complaints[0].message).split())) if complaints else None


def _cause(error: Exception) -> str:
    text = " ".join(str(error).split())
    return _shorten(f"{text}" if text else type(error).__name__)


def _shorten(text: str) -> str:
    text = text.rstrip(". ")
    return text if len(text) <= _CAUSE_CHARS else text[: _CAUSE_CHARS - 1] + "…"


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Return ``pixels`` (H, W, ...) turned upright for an EXIF orientation value.

    Orientation names where row 0 and column 0 of the stored image belong:
    2 mirrored, 3 rotated 180°, 4 flipped, 5 transposed, 6 needs 90° clockwise,
    7 transversed, 8 needs 90° counter-clockwise.
    """
    if orientation == 2:
        return pixels[:, ::-1]
    if orientation == 3:
        return pixels[::-1, ::-1]
    if orientation == 4:
        return pixels[::-1]
    if orientation == 5:
        return pixels.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(pixels, k=-1)
    if orientation == 7:
        return pixels[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(pixels, k=1)
    return pixels


def upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if np.isfinite(number) and number > 0 else None


def _text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None:
        return None
    text = str(value).replace("\x00", "").strip()
    return text or None


def _iso_datetime(value) -> str | None:
    text = _text(value)
    if not text or len(text) < 19 or text.startswith("0000"):
        return None
    return f"{text[0:4]}-{text[5:7]}-{text[8:10]}T{text[11:19]}"


def _summary(exif: Image.Exif, sub) -> ExifSummary:
    """Camera, lens and exposure facts from the file's EXIF, where present."""
    make = _text(exif.get(_IFD0["make"]))
    model = _text(exif.get(_IFD0["model"]))
    if make and model and model.lower().startswith(make.split()[0].lower()):
        camera = model
    else:
        camera = " ".join(p for p in (make, model) if p) or None

    iso = sub.get(_EXIF["iso"])
    if isinstance(iso, tuple | list):
        iso = iso[0] if iso else None
    focal_35 = _number(sub.get(_EXIF["focal_length_35mm"]))
    original = _iso_datetime(sub.get(_EXIF["datetime_original"]))
    # The sub-second and offset tags belong to the date they are read with
    subsec, offset = ("subsec_time_original", "offset_time_original") if original else (
        "subsec_time", "offset_time")
    return ExifSummary(
        camera=camera,
        lens=_text(sub.get(_EXIF["lens_model"])),
        focal_length_mm=_round(_number(sub.get(_EXIF["focal_length"])), 1),
        focal_length_35mm=_round(focal_35, 0),
        aperture_f=_round(_number(sub.get(_EXIF["f_number"])), 1),
        shutter_s=_number(sub.get(_EXIF["exposure_time"])),
        iso=int(iso) if _number(iso) else None,
        taken_at=original or _iso_datetime(exif.get(_IFD0["datetime"])),
        taken_subsec=_subsec(sub.get(_EXIF[subsec])),
        taken_offset=_offset(sub.get(_EXIF[offset])),
        exposure_bias_ev=_round(_signed(sub.get(_EXIF["exposure_bias"])), 2),
        serial=_text(sub.get(_EXIF["body_serial"])),
        flash_fired=_flash_fired(sub.get(_EXIF["flash"])),
    )


def _flash_fired(value) -> bool | None:
    """EXIF Flash is a bit field; bit 0 says whether the flash fired."""
    try:
        return bool(int(value) & 1) if value is not None else None
    except (TypeError, ValueError):
        return None


def _signed(value) -> float | None:
    """A finite number of either sign (an exposure bias of -2/3 EV), else None."""
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if np.isfinite(number) else None


def _subsec(value) -> float | None:
    """SubSecTime digits ("25" is 0.25 s; trailing spaces are padding) as a fraction."""
    text = _text(value)
    if not text or not text.isdigit():
        return None
    return float(f"0.{text}")


def _offset(value) -> str | None:
    """OffsetTime "+02:00" / "-05:30" as written; anything else (e.g. "   :  ") is None."""
    text = _text(value)
    if not text or len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        return None
    return text if text[1:3].isdigit() and text[4:6].isdigit() else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
