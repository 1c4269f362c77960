"""Camera RAW files through rawpy (LibRaw).

The camera's embedded JPEG preview is used when it is at least as large as
the analysis size: it is what the photographer saw on the camera, and it is
fast. Otherwise the sensor data is demosaiced at half size.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from critique_app.core.errors import PhotoError
from critique_app.core.imaging import color
from critique_app.core.imaging.exif import summarize_exif
from critique_app.core.imaging.photo import ExifSummary, Photo

RAW_EXTENSIONS = {
    ".3fr", ".ari", ".arw", ".bay", ".cr2", ".cr3", ".crw", ".dcr", ".dng", ".erf", ".fff",
    ".iiq", ".k25", ".kdc", ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".pef", ".raf",
    ".raw", ".rw2", ".rwl", ".sr2", ".srf", ".srw", ".x3f",
}  # fmt: skip
_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}  # LibRaw's flip -> EXIF orientation


def load_raw(path: Path, *, max_side: int, max_pixels: int) -> Photo:
    import rawpy  # imported here: LibRaw is only needed for RAW files

    from critique_app.core.imaging.load import check_pixel_limit, photo_from_pillow, target_size

    try:
        raw = rawpy.imread(str(path))
    except rawpy.LibRawFileUnsupportedError:
        raise PhotoError(
            "not a camera RAW file that LibRaw can read (unsupported camera, or corrupt)",
            path=path,
        ) from None
    except (rawpy.LibRawError, OSError) as error:
        raise PhotoError(f"the RAW file is corrupt or truncated ({error})", path=path) from None

    with raw:
        sizes = raw.sizes
        orientation = _FLIP_TO_ORIENTATION.get(sizes.flip, 1)
        stored = (sizes.width, sizes.height)
        check_pixel_limit(path, stored, max_pixels)
        upright = (stored[1], stored[0]) if orientation in (5, 6, 7, 8) else stored
        exif = _exif_from_container(path)

        preview = _large_preview(raw, needed=min(max_side, max(upright)))
        if preview is not None:
            photo = photo_from_pillow(
                preview,
                path,
                max_side=max_side,
                max_pixels=max_pixels,
                source="raw-preview",
                orientation=None if _has_own_orientation(preview) else orientation,
            )
            photo.format = f"RAW ({path.suffix.lstrip('.').upper()})"
            photo.original_size = upright
            photo.decode_scale = max(photo.pixels.shape[:2]) / max(upright)
            photo.exif = photo.exif if not photo.exif.is_empty() else exif
            photo.notes.append("the camera's embedded preview was analysed")
            return photo

        try:
            rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=16)
        except rawpy.LibRawError as error:
            raise PhotoError(f"the RAW data could not be decoded ({error})", path=path) from None

    notes = ["demosaiced at half size (no large embedded preview)"]
    pixels = color.finish_channels(rgb.astype(np.float32) / 65535.0, notes)
    stored_half = (pixels.shape[1], pixels.shape[0])  # already upright: LibRaw applies the flip
    pixels = color.resize_float(pixels, target_size(stored_half, max_side))
    return Photo(
        path=path,
        format=f"RAW ({path.suffix.lstrip('.').upper()})",
        original_size=upright,
        pixels=pixels,
        bit_depth=16,
        decode_scale=stored_half[0] / upright[0],
        source="raw-demosaic",
        notes=notes,
        exif=exif,
    )


def _large_preview(raw, needed: int) -> Image.Image | None:
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    except rawpy.LibRawError:
        return None
    try:
        if thumb.format == rawpy.ThumbFormat.JPEG:
            image = Image.open(io.BytesIO(thumb.data))
        else:
            image = Image.fromarray(np.asarray(thumb.data))
    except Exception:
        return None
    return image if max(image.size) >= needed else None


def _has_own_orientation(image: Image.Image) -> bool:
    try:
        return int(image.getexif().get(0x0112, 1)) != 1
    except Exception:
        return False


def _exif_from_container(path: Path) -> ExifSummary:
    """Most RAW formats are TIFF containers whose EXIF Pillow can read."""
    try:
        with Image.open(path) as container:
            return summarize_exif(container)
    except Exception:
        return ExifSummary()


__all__ = ["RAW_EXTENSIONS", "load_raw"]
