"""Noise level in flat areas (Immerkær 1996, restricted to low-gradient pixels)."""

from __future__ import annotations

import cv2
import numpy as np

from critique_app.core.maps.base import sample

MIN_SIDE = 8  # px: smaller photos have no flat areas to speak of
_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_NEIGHBOURS = np.ones((3, 3), np.uint8)


def measure_noise(luma: np.ndarray) -> dict:
    if min(luma.shape) < MIN_SIDE:
        return {"noise.sigma": None}
    gray = luma * np.float32(255.0)
    response = cv2.absdiff(cv2.filter2D(gray, cv2.CV_32F, _KERNEL), 0.0)
    # Structure is found on a smoothed copy so that noise itself does not decide
    # which pixels count as flat (that would bias the estimate low). A smooth copy
    # needs no more than half the size, so flatness is judged there, on every 4th
    # pixel: a Gaussian pyramid step plus a sigma-1 blur is about sigma 2 at full size.
    half = cv2.pyrDown(gray)
    height, width = half.shape
    smooth = cv2.GaussianBlur(half, (0, 0), 1.0)
    gradient = cv2.magnitude(cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3),
                             cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3))
    response = cv2.resize(response, (width, height), interpolation=cv2.INTER_NEAREST)
    # Texture and edges would read as noise: keep the flattest half of the frame,
    # and never pixels near pure black/white where noise is clipped away.
    usable = cv2.inRange(half, 8.5, 246.5)  # 255 where usable
    usable[[0, -1], :] = 0  # the filters' borders are not image content
    usable[:, [0, -1]] = 0
    if cv2.countNonZero(usable) < 100:
        usable[1:-1, 1:-1] = 255
    gradients = sample(gradient)
    usable_gradients = gradients[sample(usable) > 0]
    threshold = float(np.median(usable_gradients if usable_gradients.size else gradients))
    flat = cv2.bitwise_and(usable, cv2.compare(gradient, threshold, cv2.CMP_LE))
    flat = cv2.erode(flat, _NEIGHBOURS)  # a half-size pixel next to texture is not flat
    sigma = np.sqrt(np.pi / 2.0) * cv2.mean(response, mask=flat)[0] / 6.0
    return {"noise.sigma": round(float(sigma), 2)}
