"""Colourfulness, saturation and colour cast."""

from __future__ import annotations

import cv2
import numpy as np

_LEVELS = ((15, "not colourful"), (33, "slightly colourful"), (45, "moderately colourful"),
           (59, "averagely colourful"), (82, "quite colourful"), (109, "highly colourful"))


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) M on 0-255 sRGB values."""
    r, g, b = (rgb[..., i] * 255.0 for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def colourfulness_level(value: float) -> str:
    for limit, word in _LEVELS:
        if value < limit:
            return word
    return "extremely colourful"


def cast_direction(a: float, b: float, strength: float) -> str:
    if strength < 3.0:
        return "neutral"
    hue = np.degrees(np.arctan2(b, a)) % 360
    names = ((30, "magenta-red"), (75, "warm (orange)"), (115, "warm (yellow)"),
             (165, "yellow-green"), (215, "green"), (255, "cyan"), (300, "cool (blue)"),
             (345, "magenta"), (360, "magenta-red"))
    return next(name for limit, name in names if hue < limit)


def illuminant_lab(rgb: np.ndarray) -> tuple[float, float]:
    """(a*, b*) of the light's colour by the grey-edge hypothesis (van de Weijer 2007).

    Edges of neutral objects carry the illuminant's colour, and averaging edge
    strength per channel is far less fooled by one big coloured object (a blue
    sky, a red wall) than averaging the pixels themselves.
    """
    height, width = rgb.shape[:2]
    if max(height, width) > 640:  # edge statistics need no more than this
        factor = 640 / max(height, width)
        rgb = cv2.resize(rgb, (round(width * factor), round(height * factor)),
                         interpolation=cv2.INTER_AREA)
    smooth = cv2.GaussianBlur(rgb, (0, 0), 1.0)
    unclipped = ((rgb > 0.02) & (rgb < 0.98)).all(axis=2)
    if unclipped.sum() < 100:
        unclipped = np.ones(rgb.shape[:2], bool)
    strength = []
    for channel in cv2.split(smooth):
        gx = cv2.Sobel(channel, cv2.CV_32F, 1, 0)
        gy = cv2.Sobel(channel, cv2.CV_32F, 0, 1)
        magnitude = np.hypot(gx, gy)[unclipped]
        strength.append(float(np.sqrt(np.mean(magnitude**2))) + 1e-9)
    light = np.array(strength, np.float32) / max(strength)
    lab = cv2.cvtColor((0.7 * light)[None, None, :], cv2.COLOR_RGB2Lab)[0, 0]
    return float(lab[1]), float(lab[2])


def measure_color(rgb: np.ndarray) -> dict:
    rgb = rgb[::2, ::2]  # every 4th pixel is plenty for frame-wide colour statistics
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)  # float: S, V in [0, 1]
    saturation, value = hsv[..., 1], hsv[..., 2]
    vivid = (saturation > 0.8) & (value > 0.2)
    cast_a, cast_b = illuminant_lab(rgb)
    strength = float(np.hypot(cast_a, cast_b))
    m = colourfulness(rgb)
    return {
        "color.colourfulness": round(m, 1),
        "color.colourfulness_level": colourfulness_level(m),
        "color.mean_saturation": round(float(saturation.mean()), 4),
        "color.highly_saturated_pct": round(float(vivid.mean() * 100), 2),
        "color.cast_a": round(cast_a, 2),
        "color.cast_b": round(cast_b, 2),
        "color.cast_strength": round(strength, 2),
        "color.cast_direction": cast_direction(cast_a, cast_b, strength),
    }
