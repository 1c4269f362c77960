"""The kinds that are about light: night, blue hour, astro, low- and high-key, backlit,
silhouette, and intentional motion (a long exposure by choice)."""

from __future__ import annotations

from critique_app.core.scene.evidence import Evidence
from critique_app.core.scene.exif_light import (
    ASTRO_ISO,
    ASTRO_SHUTTER_S,
    DAYLIGHT_EV,
    LONG_EXPOSURE_S,
    STARLIGHT_EV,
)
from critique_app.core.scene.reading import Reading

# Counter-evidence factors: how far a contradicting fact scales a dark-scene reading
UNDEREXPOSED_FACTOR = 0.15  # nothing near white: a short exposure, not a dark scene
DAYLIGHT_SKY_FACTOR = 0.2  # a bright daylight sky in the frame
DAYLIGHT_EXIF_FACTOR = 0.1  # the camera's settings suit daylight
BLUE_LIGHT = 1.6  # linear blue / red of the whole frame at or over this: bluish light
# Astro: a near-black frame (median luma under ASTRO_MEDIAN, ASTRO_DARK_SHARE of it under
# DARK_LEVEL) holding many points (ASTRO_POINTS) spread over the frame (ASTRO_CELLS of
# 16): Hubble's deep field has 302 in all 16; the rocket's lamps 11 in a row.
ASTRO_MEDIAN = 0.12
ASTRO_DARK_SHARE = 0.6
ASTRO_POINTS = 30
ASTRO_CELLS = 8
NO_DARK_FRAME_FACTOR = 0.3  # stars without a dark frame: not an astro photo
# Low-key: mostly near black (median under LOW_KEY_MEDIAN, LOW_KEY_DARK_SHARE near
# black) while the lit parts still reach LOW_KEY_HEADROOM (grace_hopper: 0.13, 43%, 1.0)
LOW_KEY_MEDIAN = 0.20
LOW_KEY_DARK_SHARE = 0.30
LOW_KEY_HEADROOM = 0.7
LIT_SUBJECT = 2.0  # subject median luma this many times its surround's: a lit subject
EXPLAINED_BY_NIGHT = 0.5  # a dark frame explained by a night, blue-hour or astro reading
# High-key: light overall (median over HIGH_KEY_MEDIAN) with almost nothing dark
HIGH_KEY_MEDIAN = 0.70
HIGH_KEY_DARK_SHARE = 0.05
HIGH_KEY_BRIGHT_SHARE = 0.3
# Backlit: the surround is bright and the subject far darker; a silhouette is near black
BRIGHT_SURROUND = 0.6
BACKLIT_RATIO = 1 / 3
SILHOUETTE_LUMA = 0.08
SILHOUETTE_SURROUND = 0.5
CLIPPED_PCT = 2.0  # % of the frame blown: the light source itself is in the frame
BRIGHT_FRAME = 0.3  # a long exposure of a frame this bright (median) is not a night's


def night(r: Reading) -> Evidence:
    e = Evidence("night")
    if r.lamps:
        e.add(0.4, "measurements", r.lamps_text())
    if r.black_sky:
        e.add(0.35, "measurements", r.sky_text("a black, smooth sky"))
    if r.dark_frame and r.cues.median < 0.1 and r.cues.headroom >= 0.6:
        e.add(0.2, "measurements", f"{r.cues.dark_share:.0%} of the frame near black, yet "
              f"its brightest parts reach {r.cues.headroom:.2f} of white")
    if r.exif_dim:
        e.add(0.5, "exif", r.exif_text("a night-time or dim light level"))
    _dark_scene_counters(e, r)
    return e


def blue_hour(r: Reading) -> Evidence:
    e = Evidence("blue-hour")
    if r.twilight_sky:
        e.add(0.45, "measurements", r.sky_text("a deep blue, smooth sky"))
    if r.lamps:
        e.add(0.3, "measurements", r.lamps_text() + ": lamps already lit")
    if r.cues.blue_red >= BLUE_LIGHT and r.cues.median < 0.35:
        e.add(0.15, "measurements", f"bluish light: linear blue {r.cues.blue_red:.1f}x red")
    if r.exif_dim:
        e.add(0.25, "exif", r.exif_text("a twilight or night light level"))
    _dark_scene_counters(e, r)
    return e


def astro(r: Reading) -> Evidence:
    e = Evidence("astro")
    c = r.cues
    dark = c.median < ASTRO_MEDIAN and c.dark_share >= ASTRO_DARK_SHARE
    if dark:
        e.add(0.3, "measurements", f"{c.dark_share:.0%} of the frame near black "
              f"(median brightness {c.median:.2f})")
    if c.point_lights >= ASTRO_POINTS and c.point_cells >= ASTRO_CELLS:
        e.add(0.5, "measurements", f"{c.point_lights} point light sources spread over "
              f"{c.point_cells} of 16 parts of the frame")
    exif = r.exif
    if r.light and ((exif.shutter_s >= ASTRO_SHUTTER_S and exif.iso >= ASTRO_ISO)
                    or (r.light.ev100 is not None and r.light.ev100 <= STARLIGHT_EV)):
        e.add(0.45, "exif", r.exif_text("how a night sky is exposed"))
    if e.cues and not dark:
        e.counter(NO_DARK_FRAME_FACTOR, "measurements",
                  f"the frame is not near black (median brightness {c.median:.2f})")
    _dark_scene_counters(e, r)
    return e


def _dark_scene_counters(e: Evidence, r: Reading) -> None:
    if r.underexposed and not r.exif_dim:
        e.counter(UNDEREXPOSED_FACTOR, "measurements", r.headroom_text())
    if r.daylight_sky:
        e.counter(DAYLIGHT_SKY_FACTOR, "measurements", r.sky_text("a bright daylight sky"))
    if r.exif_daylight:
        e.counter(DAYLIGHT_EXIF_FACTOR, "exif", r.exif_daylight_text())


def low_key(r: Reading, night_like: bool) -> Evidence:
    e = Evidence("low-key")
    c = r.cues
    if c.median < LOW_KEY_MEDIAN and c.dark_share >= LOW_KEY_DARK_SHARE:
        e.add(0.4, "measurements", f"{c.dark_share:.0%} of the frame near black "
              f"(median brightness {c.median:.2f})")
    if e.cues and c.headroom >= LOW_KEY_HEADROOM:
        e.add(0.25, "measurements", f"yet its brightest parts reach {c.headroom:.2f} of white")
    if e.cues and c.subject_luma and c.surround_luma is not None and \
            c.subject_luma >= LIT_SUBJECT * max(c.surround_luma, 0.01):
        e.add(0.2, "measurements", f"the subject lit (median {c.subject_luma:.2f}) against "
              f"a dark surround ({c.surround_luma:.2f})")
    if r.underexposed and not r.exif_dim:
        e.counter(UNDEREXPOSED_FACTOR, "measurements", r.headroom_text())
    if night_like:
        e.counter(EXPLAINED_BY_NIGHT, "measurements", "the dark is the night's")
    if r.exif_daylight and not r.exif.flash_fired:
        e.counter(0.6, "exif", r.exif_daylight_text())
    return e


def high_key(r: Reading) -> Evidence:
    e = Evidence("high-key")
    c = r.cues
    if c.median >= HIGH_KEY_MEDIAN and c.dark_share < HIGH_KEY_DARK_SHARE:
        e.add(0.5, "measurements", f"light overall (median brightness {c.median:.2f}), "
              f"{c.dark_share:.0%} near black")
        if c.bright_share >= HIGH_KEY_BRIGHT_SHARE:
            e.add(0.2, "measurements", f"{c.bright_share:.0%} of the frame near white")
    return e


def backlit(r: Reading) -> tuple[Evidence, Evidence]:
    lit, silhouette = Evidence("backlit"), Evidence("silhouette")
    c = r.cues
    if c.subject_luma is None or c.surround_luma is None or c.surround_luma < BRIGHT_SURROUND:
        return lit, silhouette
    if c.subject_luma <= BACKLIT_RATIO * c.surround_luma:
        lit.add(0.45, "measurements", f"the subject (median brightness {c.subject_luma:.2f}) "
                f"far darker than its bright surround ({c.surround_luma:.2f})")
        clipped = r.measurements.get("exposure.highlights_clipped_pct") or 0.0
        if clipped >= CLIPPED_PCT:
            lit.add(0.15, "measurements", f"{clipped:.1f}% of the frame blown: the light "
                    "itself is in the frame")
    if c.subject_luma <= SILHOUETTE_LUMA and c.surround_luma >= SILHOUETTE_SURROUND:
        silhouette.add(0.6, "measurements", f"the subject near black (median brightness "
                       f"{c.subject_luma:.2f}) against a bright surround "
                       f"({c.surround_luma:.2f})")
    return lit, silhouette


def intentional_motion(r: Reading) -> Evidence:
    e = Evidence("intentional-motion")
    exif, light = r.exif, r.light
    if light is None or exif.shutter_s < LONG_EXPOSURE_S:
        return e
    if light.ev100 is not None and light.ev100 >= DAYLIGHT_EV - 2:
        e.add(0.6, "exif", r.exif_text("a long exposure in bright light: a dark filter and a "
                                       "support, chosen to draw motion"))
    elif r.cues.median >= BRIGHT_FRAME:
        e.add(0.4, "exif", r.exif_text("a long exposure of a bright frame"))
    else:
        e.add(0.3, "exif", r.exif_text("a long exposure (light trails, moving water)"))
    return e
