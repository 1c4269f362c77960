"""Camera RAW files through rawpy (LibRaw).

The camera's embedded JPEG preview is used when it is at least as large as
the analysis size: it is what the photographer saw on the camera, and it is
fast. Otherwise the sensor data is demosaiced at half size.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from critique_app.core.photo import color
from critique_app.core.photo.decoded import Photo
from critique_app.core.photo.exif import ExifReading, read_exif
from critique_app.core.photo.pillow_decode import check_pixel_limit, photo_from_pillow, target_size
from critique_app.core.util.errors import PhotoError

RAW_EXTENSIONS = {
    ".3fr", ".ari", ".arw", ".bay", ".cr2", ".cr3", ".crw", ".dcr", ".dng", ".erf", ".fff",
    ".iiq", ".k25", ".kdc", ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".pef", ".raf",
    ".raw", ".rw2", ".rwl", ".sr2", ".srf", ".srw", ".x3f",
}  # fmt: skip
_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}  # LibRaw's flip -> EXIF orientation


def load_raw(path: Path, *, max_side: int, max_pixels: int) -> Photo:
    import rawpy  # imported here: LibRaw is only needed for RAW files


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
        container = _exif_from_container(path)

        preview, reason = _large_preview(raw, needed=min(max_side, max(upright)))
        photo = None
        if preview is not None:
            try:
                photo = photo_from_pillow(
                    preview,
                    path,
                    max_side=max_side,
                    max_pixels=max_pixels,
                    decoded_from="raw-preview",
                    orientation=None if read_exif(preview).orientation != 1 else orientation,
                )
            except (OSError, SyntaxError, ValueError, EOFError) as error:  # a corrupt preview
                photo, reason = None, f"the embedded preview could not be decoded: {error}"
        if photo is not None:
            photo.format = f"RAW ({path.suffix.lstrip('.').upper()})"
            photo.original_size = upright
            photo.decode_scale = max(photo.pixels.shape[:2]) / max(upright)
            if photo.exif.is_empty():
                photo.exif = container.summary
                photo.notes.extend(container.notes)
            photo.notes.append("the camera's embedded preview was analysed")
            return photo

        try:
            rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=16)
        except rawpy.LibRawError as error:
            raise PhotoError(f"the RAW data could not be decoded ({error})", path=path) from None

    notes = [f"demosaiced at half size ({reason})", *container.notes]
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
        decoded_from="raw-demosaic",
        notes=notes,
        exif=container.summary,
    )


def _large_preview(raw, needed: int) -> tuple[Image.Image | None, str]:
    """The embedded preview if it is at least ``needed`` pixels long, else why not."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except rawpy.LibRawNoThumbnailError:
        return None, "no embedded preview"
    except rawpy.LibRawUnsupportedThumbnailError:
        return None, "the embedded preview is in a format LibRaw cannot extract"
    except rawpy.LibRawError as error:
        return None, f"the embedded preview could not be read: {error}"
    try:
        if thumb.format == rawpy.ThumbFormat.JPEG:
            image = Image.open(io.BytesIO(thumb.data))
        else:
            image = Image.fromarray(np.asarray(thumb.data))
    except Exception as error:  # Pillow raises many kinds on a corrupt preview
        return None, f"the embedded preview could not be decoded: {error}"
    if max(image.size) < needed:
        return None, f"the embedded preview is only {image.size[0]}×{image.size[1]}"
    return image, ""


def _exif_from_container(path: Path) -> ExifReading:
    """Most RAW formats are TIFF containers whose EXIF Pillow can read."""
    try:
        with Image.open(path) as container:
            return read_exif(container)
    except UnidentifiedImageError:
        return ExifReading(notes=(
            f"camera and exposure data (EXIF) not read: Pillow cannot open "
            f"{path.suffix.lstrip('.').upper()} containers",))
    except Exception as error:  # a corrupt container: LibRaw may still read the pixels
        return ExifReading(notes=(
            f"EXIF unreadable: {error}; capture data not used",))


__all__ = ["RAW_EXTENSIONS", "load_raw"]
