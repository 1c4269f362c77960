"""Render a modality map as a colour overlay on the photo (plain numpy/OpenCV)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from critique_app.core.photo.decoded import to_uint8


@dataclass(frozen=True)
class OverlayStyle:
    colormap: int
    low_label: str
    high_label: str
    weight_by_value: bool  # True: low values leave the photo untouched


STYLES = {
    "saliency": OverlayStyle(cv2.COLORMAP_INFERNO, "ignored", "eye goes here", True),
    "blur": OverlayStyle(cv2.COLORMAP_PLASMA, "sharp", "blurred", True),
    "depth": OverlayStyle(cv2.COLORMAP_TURBO, "far", "near", False),
}


def colorize(values: np.ndarray, modality: str) -> np.ndarray:
    """Map values in [0, 1] to RGB uint8 with the modality's colour map."""
    index = to_uint8(values)
    return cv2.cvtColor(cv2.applyColorMap(index, STYLES[modality].colormap), cv2.COLOR_BGR2RGB)


def render_overlay(
    photo_rgb: np.ndarray, values: np.ndarray, modality: str, opacity: float = 0.6
) -> np.ndarray:
    """Blend the coloured map over the photo (both H x W); returns RGB uint8."""
    style = STYLES[modality]
    photo = photo_rgb.astype(np.float32)
    colour = colorize(values, modality).astype(np.float32)
    alpha = np.full(values.shape, opacity, np.float32)
    if style.weight_by_value:
        # Low values leave the photo clean (no all-over haze); tint grows from 0.15 to 0.6.
        ramp = np.clip((values - 0.15) / 0.45, 0, 1)
        alpha *= ramp * ramp * (3 - 2 * ramp)
    blended = photo * (1 - alpha[..., None]) + colour * alpha[..., None]
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def with_legend(image: np.ndarray, modality: str) -> np.ndarray:
    """Append a colour-bar legend strip under an overlay image."""
    style = STYLES[modality]
    width = image.shape[1]
    height = max(24, width // 30)
    strip = np.full((height, width, 3), 32, np.uint8)
    bar_left, bar_right = width // 4, width - width // 4
    ramp = np.linspace(0, 1, max(1, bar_right - bar_left), dtype=np.float32)[None, :]
    strip[height // 4 : height - height // 4, bar_left:bar_right] = colorize(
        np.repeat(ramp, height - 2 * (height // 4), axis=0), modality
    )
    font_scale = height / 48
    for text, right_align in ((style.low_label, True), (style.high_label, False)):
        (text_w, text_h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        x = bar_left - text_w - 6 if right_align else bar_right + 6
        cv2.putText(strip, text, (max(0, x), (height + text_h) // 2), cv2.FONT_HERSHEY_SIMPLEX,
                    font_scale, (235, 235, 235), 1, cv2.LINE_AA)
    return np.concatenate([image, strip], axis=0)


def overlay_rgba(values: np.ndarray, modality: str) -> np.ndarray:
    """The coloured map with its blend weight as alpha (H x W x 4 uint8), at opacity 1.

    Same alpha rule as :func:`render_overlay`, so a GUI can scale the whole layer's
    opacity itself without re-rendering.
    """
    style = STYLES[modality]
    alpha = np.ones(values.shape, np.float32)
    if style.weight_by_value:
        ramp = np.clip((values - 0.15) / 0.45, 0, 1)
        alpha = ramp * ramp * (3 - 2 * ramp)
    return np.dstack([colorize(values, modality), to_uint8(alpha)])
