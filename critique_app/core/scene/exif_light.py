"""How much light the camera's settings say there was: EV100 from shutter, aperture and ISO.

EV100 = log2(N² / t) - log2(ISO / 100) is the scene's light level the exposure suits
(standard exposure tables): sunlit scenes 14-16, overcast daylight 11-13, indoors and
twilight 5-9, lit streets at night 2-6, moonlit landscapes around -2 and a starry sky
-6 to -3. Photographers expose a night scene brighter than the meter would, so the
bands below are generous.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from critique_app.core.photo.decoded import ExifSummary

DAYLIGHT_EV = 11.0  # at or over: a daylight exposure (overcast daylight starts near 11)
DIM_EV = 7.0  # at or under: night or a dim interior (twilight and lit interiors are 5-9)
STARLIGHT_EV = -2.0  # at or under: only moonlight or starlight is this dark
# Without the aperture: a shutter this slow at an ISO this high is only chosen in dim light
SLOW_SHUTTER_S = 1 / 15
HIGH_ISO = 1600
LONG_EXPOSURE_S = 1.0  # a deliberate long exposure (tripod): motion is drawn, not frozen
ASTRO_SHUTTER_S = 5.0  # with ASTRO_ISO: how the night sky is shot
ASTRO_ISO = 800


@dataclass(frozen=True)
class ExifLight:
    settings: str  # "1/4 s at f/2.8, ISO 3200"
    ev100: float | None  # None when the aperture is not recorded

    @property
    def daylight(self) -> bool:
        return self.ev100 is not None and self.ev100 >= DAYLIGHT_EV


def exif_light(exif: ExifSummary | None) -> ExifLight | None:
    """The exposure settings in words and their EV100; None without shutter and ISO."""
    if exif is None or not exif.shutter_s or not exif.iso:
        return None
    parts = [exif.shutter_text]
    if exif.aperture_f:
        parts.append(f"at f/{exif.aperture_f:g}")
    settings = " ".join(parts) + f", ISO {exif.iso}"
    ev100 = None
    if exif.aperture_f:
        ev100 = math.log2(exif.aperture_f ** 2 / exif.shutter_s) - math.log2(exif.iso / 100)
    return ExifLight(settings, ev100)


def dim_light(exif: ExifSummary, light: ExifLight) -> bool:
    """The settings were chosen for little light."""
    if light.ev100 is not None:
        return light.ev100 <= DIM_EV
    return exif.shutter_s >= SLOW_SHUTTER_S and exif.iso >= HIGH_ISO
