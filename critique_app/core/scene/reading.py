"""Everything the rules read, gathered once, with the shared judgements worded once."""

from __future__ import annotations

from dataclasses import dataclass

from critique_app.core.photo.decoded import ExifSummary
from critique_app.core.scene.cues import Cues
from critique_app.core.scene.exif_light import DAYLIGHT_EV, ExifLight, dim_light

# The frame is dark (its median luma under this): where night and low-key begin
DARK_FRAME = 0.25
# An underexposed frame's brightest 0.5% stay under this luma; a dark scene with lamps,
# stars or a lit subject reaches 0.6-1.0 (rocket 0.83, Hubble 0.79, grace_hopper 1.0;
# china and coffee at 1/8 exposure 0.38, at 1/16 0.27)
HEADROOM_UNDEREXPOSED = 0.5
LAMPS = 3  # this many point light sources in a dark frame are lamps (or stars)
# A daylight sky: smooth over this share of the top band ...
SKY_SMOOTH = 0.8
SKY_BRIGHT = 0.55  # ... at least this bright (luma) ...
SKY_ABOVE_GROUND = 0.1  # ... and this much brighter than the frame below it
# A twilight sky: smooth, blue over red by this much and this many times, this dark
TWILIGHT_BLUE = 0.10
TWILIGHT_RATIO = 2.5
TWILIGHT_LUMA = (0.04, 0.40)
NIGHT_SKY_LUMA = 0.05  # a smooth top band darker than this is a black sky


@dataclass(frozen=True)
class Reading:
    cues: Cues
    measurements: dict
    labels: tuple[tuple[str, float], ...]  # () when not available
    exif: ExifSummary
    light: ExifLight | None

    # --- tone ----------------------------------------------------------------------
    @property
    def dark_frame(self) -> bool:
        return self.cues.median < DARK_FRAME

    @property
    def underexposed(self) -> bool:
        """Nothing in the frame comes near white: the exposure is short, not the scene dark.
        A few small lamps in a night scene may cover under 0.5% of it: lamps say night."""
        return self.cues.headroom < HEADROOM_UNDEREXPOSED and self.cues.point_lights < LAMPS

    def headroom_text(self) -> str:
        return (f"the brightest 0.5% of pixels reach only {self.cues.headroom:.2f} of white: "
                "an underexposed frame, not a dark scene with its own lights")

    @property
    def lamps(self) -> bool:
        return self.dark_frame and self.cues.point_lights >= LAMPS

    def lamps_text(self) -> str:
        return (f"{self.cues.point_lights} point light sources in a dark frame "
                f"(median brightness {self.cues.median:.2f})")

    # --- sky -----------------------------------------------------------------------
    @property
    def daylight_sky(self) -> bool:
        sky = self.cues.sky
        return (sky.smooth_share >= SKY_SMOOTH and sky.luma >= SKY_BRIGHT
                and sky.blueness > -0.02 and sky.luma - sky.below >= SKY_ABOVE_GROUND)

    @property
    def twilight_sky(self) -> bool:
        sky = self.cues.sky
        red, _, blue = sky.rgb
        return (sky.smooth_share >= SKY_SMOOTH and sky.blueness >= TWILIGHT_BLUE
                and blue >= TWILIGHT_RATIO * red and blue == max(sky.rgb)
                and TWILIGHT_LUMA[0] <= sky.luma <= TWILIGHT_LUMA[1])

    @property
    def black_sky(self) -> bool:
        sky = self.cues.sky
        return sky.smooth_share >= SKY_SMOOTH and sky.luma < NIGHT_SKY_LUMA

    def sky_text(self, what: str) -> str:
        sky = self.cues.sky
        colour = ", ".join(f"{v:.2f}" for v in sky.rgb)
        return (f"{what} across the top quarter (brightness {sky.luma:.2f}, sRGB {colour}; "
                f"{sky.smooth_share:.0%} of it smooth)")

    # --- EXIF ----------------------------------------------------------------------
    @property
    def exif_dim(self) -> bool:
        return self.light is not None and dim_light(self.exif, self.light)

    @property
    def exif_daylight(self) -> bool:
        return self.light is not None and self.light.daylight

    def exif_text(self, meaning: str) -> str:
        light = self.light
        ev = f" (EV100 {round(light.ev100, 1) + 0.0:.1f})" if light.ev100 is not None else ""
        return f"{light.settings}{ev}: {meaning}"

    def exif_daylight_text(self) -> str:
        return self.exif_text(f"a daylight exposure (EV100 {DAYLIGHT_EV:g} or more)")

    # --- labels --------------------------------------------------------------------
    def top_label(self) -> tuple[str, float] | None:
        return self.labels[0] if self.labels else None


def labels_cue(found: list[tuple[str, float]]) -> str:
    return "ImageNet: " + ", ".join(f"'{name}' {p:.0%}" for name, p in found)
