"""A rating table a score model can learn in seconds: sharp crops of real photos rated
high, blurred copies rated low. The wizard tests and the screenshot script use it."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from PIL import Image, ImageFilter

from tests.helpers.photos import PHOTOS

BLUR_RADII = (0.0, 0.7, 1.4, 2.2, 3.0, 4.0)  # 9.5 for the sharp crop down to 2.0


def blurred_crops(folder: Path, *, names=tuple(PHOTOS), crops: int = 1, size: int = 96,
                  bad_rows: bool = True) -> Path:
    """Write ``crops`` random ``size``-pixel crops of each named photo at every blur radius
    into ``folder`` and a ``ratings.csv`` (image, score) beside them. With ``bad_rows`` two
    rows follow that a reader must report: a photo that is not there (missing.jpg) and a
    score that is no number ("eleven")."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    rows = []
    for name in names:
        with Image.open(PHOTOS[name]) as image:
            photo = image.convert("RGB")
        for crop_index in range(crops):
            left = rng.randrange(0, photo.width - size)
            top = rng.randrange(0, photo.height - size)
            crop = photo.crop((left, top, left + size, top + size))
            stem = name if crops == 1 else f"{name}-{crop_index}"
            for radius in BLUR_RADII:
                file = folder / f"{stem}-{radius:.1f}.jpg"
                blurred = crop.filter(ImageFilter.GaussianBlur(radius)) if radius else crop
                blurred.save(file, quality=92)
                rows.append([file.name, f"{9.5 - 7.5 * radius / 4.0:.2f}"])
    table = folder / "ratings.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "score"])
        writer.writerows(rows)
        if bad_rows:
            writer.writerow(["missing.jpg", "5"])
            writer.writerow([rows[0][0], "eleven"])
    return table
