"""Rotated square crops, as MediaPipe cuts a face or an eye out of the frame."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Roi:
    """A square region: centre (pixels), side (pixels), rotation (radians, the angle that
    turns the region's x axis onto the line it was aligned to)."""

    cx: float
    cy: float
    side: float
    angle: float

    def to_crop(self, size: int) -> np.ndarray:
        """The 2x3 affine map from image pixels to a ``size`` x ``size`` crop."""
        scale = size / self.side
        cos, sin = np.cos(self.angle) * scale, np.sin(self.angle) * scale
        # crop = R(-angle) * scale * (p - centre) + size / 2
        return np.array([[cos, sin, size / 2 - cos * self.cx - sin * self.cy],
                         [-sin, cos, size / 2 + sin * self.cx - cos * self.cy]], np.float64)

    def cut(self, rgb: np.ndarray, size: int) -> np.ndarray:
        """The region as ``size`` x ``size`` uint8 (edges repeated, as MediaPipe does)."""
        return cv2.warpAffine(rgb, self.to_crop(size), (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)

    def to_image(self, points: np.ndarray, size: int) -> np.ndarray:
        """Crop pixel coordinates (N x 2) back to image pixels."""
        inverse = cv2.invertAffineTransform(self.to_crop(size))
        return points[:, :2] @ inverse[:, :2].T + inverse[:, 2]


def aligned_roi(start: np.ndarray, end: np.ndarray, centre: np.ndarray, side: float) -> Roi:
    """A square around ``centre`` turned so the line ``start`` -> ``end`` is horizontal."""
    angle = float(np.arctan2(end[1] - start[1], end[0] - start[0]))
    return Roi(float(centre[0]), float(centre[1]), float(side), angle)
