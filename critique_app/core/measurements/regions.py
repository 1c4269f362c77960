"""Naming where something is in the frame."""

from __future__ import annotations

import numpy as np

_ROWS = ("top", "middle", "bottom")
_COLS = ("left", "centre", "right")


def grid_region(mask: np.ndarray) -> str | None:
    """The cell of a 3x3 grid holding most of a boolean ``mask``; None if it is empty."""
    height, width = mask.shape
    counts = np.array([[np.count_nonzero(mask[row * height // 3 : (row + 1) * height // 3,
                                              col * width // 3 : (col + 1) * width // 3])
                        for col in range(3)] for row in range(3)])
    if not counts.any():
        return None
    row, col = np.unravel_index(int(np.argmax(counts)), counts.shape)  # first of equals
    row_name, col_name = _ROWS[row], _COLS[col]
    if row_name == "middle":
        return col_name
    return row_name if col_name == "centre" else f"{row_name}-{col_name}"
