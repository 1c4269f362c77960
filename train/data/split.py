"""A train/validation split that never puts one photo on both sides.

AVA has one row per photo, but Impressions and ArtEmis have several per image
(one per annotator): splitting rows at random would let validation grade the
model on images it trained on. So images, not rows, are assigned, in an order
fixed by a hash of the seed and the image's folder and file name. The split
therefore depends only on which images there are and how many rows each has (not
on row order, nor on where the dataset sits on disk); adding photos moves at most
the few at the boundary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path


def _rank(image: Path, seed: int) -> str:
    key = f"{seed}\0{image.parent.name}/{image.name}"
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def split_rows(rows: Sequence, val_fraction: float = 0.1, seed: int = 0) -> tuple[list, list]:
    """(train, validation) rows; all rows of an image land on the same side.

    Validation gets whole images, in hash order, until it holds at least
    ``val_fraction`` of the rows (at least one image when the fraction is above 0
    and there are two or more images; never every image). Rows keep their order.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be from 0 to below 1, not {val_fraction}")
    sizes: dict[Path, int] = {}
    for row in rows:
        sizes[row.image] = sizes.get(row.image, 0) + 1
    target = val_fraction * len(rows)
    validation: set[Path] = set()
    held = 0
    ranked = sorted(sizes, key=lambda image: (_rank(image, seed), str(image)))
    for image in ranked if val_fraction > 0 else []:
        if held >= target or len(validation) + 1 >= len(sizes):
            break
        validation.add(image)
        held += sizes[image]
    train = [row for row in rows if row.image not in validation]
    val = [row for row in rows if row.image in validation]
    return train, val
