"""Naming where something is in the frame."""

from __future__ import annotations

import numpy as np

_ROWS = ("top", "middle", "bottom")
_COLS = ("left", "centre", "right")


def grid_region(mask: np.ndarray) -> str | None:
    """The cell of a 3x3 grid holding most of ``mask`` (bool or weights)."""
    weights = mask.astype(np.float32)
    total = float(np.count_nonzero(weights))
    if total <= 0:
        return None
    height, width = weights.shape
    best, best_mass = None, -1.0
    for row, row_name in enumerate(_ROWS):
        for col, col_name in enumerate(_COLS):
            cell = weights[row * height // 3 : (row + 1) * height // 3,
                           col * width // 3 : (col + 1) * width // 3]
            mass = float(cell.sum())
            if mass > best_mass:
                best_mass = mass
                best = (row_name, col_name)
    row_name, col_name = best
    if row_name == "middle":
        return col_name
    return row_name if col_name == "centre" else f"{row_name}-{col_name}"
