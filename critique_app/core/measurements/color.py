"""Colourfulness, saturation and colour cast."""

from __future__ import annotations

import cv2
import numpy as np

_LEVELS = ((15, "not colourful"), (33, "slightly colourful"), (45, "moderately colourful"),
           (59, "averagely colourful"), (82, "quite colourful"), (109, "highly colourful"))


_OPPONENT = np.array([[255.0, -255.0, 0.0], [127.5, 127.5, -255.0]], np.float32)  # rg, yb


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) M on 0-255 sRGB values."""
    opponent = cv2.transform(np.ascontiguousarray(rgb, np.float32), _OPPONENT)
    mean, std = cv2.meanStdDev(opponent)
    return float(np.hypot(*std.ravel()) + 0.3 * np.hypot(*mean.ravel()))


def colorfulness_level(value: float) -> str:
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


_SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805],
                         [0.2126, 0.7152, 0.0722],
                         [0.0193, 0.1192, 0.9505]])
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def srgb_to_lab(colour: np.ndarray) -> tuple[float, float, float]:
    """One sRGB colour (0-1) to CIE L*a*b* (D65), without OpenCV's per-call table set-up."""
    colour = np.asarray(colour, np.float64)
    linear = np.where(colour <= 0.04045, colour / 12.92, ((colour + 0.055) / 1.055) ** 2.4)
    t = _SRGB_TO_XYZ @ linear / _D65_WHITE
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return float(116 * f[1] - 16), float(500 * (f[0] - f[1])), float(200 * (f[1] - f[2]))


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
    unclipped = cv2.inRange(rgb, (0.02, 0.02, 0.02), (0.98, 0.98, 0.98))  # 255 where usable
    if cv2.countNonZero(unclipped) < 100:
        unclipped[:] = 255
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0)  # all three channels at once
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
    energy = cv2.mean(gx * gx + gy * gy, mask=unclipped)[:3]
    strength = [float(np.sqrt(value)) + 1e-9 for value in energy]
    light = np.array(strength, np.float32) / max(strength)
    _, a, b = srgb_to_lab(0.7 * light)
    return a, b


def measure_color(rgb: np.ndarray) -> dict:
    # Every 4th pixel is plenty frame-wide (a nearest-neighbour resize picks them
    # 10x faster than copying a strided view).
    height, width = rgb.shape[:2]
    rgb = cv2.resize(rgb, ((width + 1) // 2, (height + 1) // 2), interpolation=cv2.INTER_NEAREST)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)  # float: S, V in [0, 1]
    saturation, value = hsv[..., 1], hsv[..., 2]
    vivid = (saturation > 0.8) & (value > 0.2)
    cast_a, cast_b = illuminant_lab(rgb)
    strength = float(np.hypot(cast_a, cast_b))
    m = colorfulness(rgb)
    return {
        "color.colorfulness": round(m, 1),
        "color.colorfulness_level": colorfulness_level(m),
        "color.mean_saturation": round(float(saturation.mean()), 4),
        "color.highly_saturated_pct": round(float(vivid.mean() * 100), 2),
        "color.cast_a": round(cast_a, 2),
        "color.cast_b": round(cast_b, 2),
        "color.cast_strength": round(strength, 2),
        "color.cast_direction": cast_direction(cast_a, cast_b, strength),
    }
