"""Noise level in flat areas (Immerkær 1996, restricted to low-gradient pixels)."""

from __future__ import annotations

import cv2
import numpy as np

from critique_app.core.modalities.base import sample

_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def measure_noise(luma: np.ndarray) -> dict:
    gray = luma * 255.0
    response = np.abs(cv2.filter2D(gray, cv2.CV_32F, _KERNEL))[1:-1, 1:-1]
    # Structure is found on a smoothed copy so that noise itself does not decide
    # which pixels count as flat (that would bias the estimate low).
    smooth = cv2.GaussianBlur(gray, (0, 0), 2.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)[1:-1, 1:-1]
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)[1:-1, 1:-1]
    gradient = np.hypot(gx, gy)
    # Texture and edges would read as noise: keep the flattest half of the frame,
    # and never pixels near pure black/white where noise is clipped away.
    usable = (gray[1:-1, 1:-1] > 8) & (gray[1:-1, 1:-1] < 247)
    if usable.sum() < 100:
        usable = np.ones_like(usable)
    flat = usable & (gradient <= np.median(sample(gradient[usable])))
    sigma = np.sqrt(np.pi / 2.0) * float(response[flat].mean()) / 6.0
    return {"noise.sigma": round(sigma, 2)}
