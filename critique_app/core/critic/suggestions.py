"""Concrete edits and reshoot advice from the measurements alone: a deterministic rule engine.

Each rule fires only past a threshold below which the issue is either not
visible or not worth a photographer's time, so a good photo gets few or no
suggestions. Severity (0-1) starts at ``SEVERITY_FLOOR`` at the threshold and
grows linearly to 1 at the rule's "full" value, scaled by how much the rule is
a defect rather than a matter of taste (``TASTE_WEIGHT``).

Given the scene (critique_app.core.scene), advice that does not fit it is set aside
with the reason and the scene's cues (no brighter exposure for a night or astro photo, no
wider aperture for a landscape); given the EXIF, a recorded setting that explains a
fault is named in its advice (a slow shutter for blur, a high ISO for noise, exposure
compensation for blown highlights).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from critique_app.core.critic.facts import (
    Region,
    cell_box,
    direction,
    number,
    pct,
    place,
    subject_box,
    word,
)

SEVERITY_FLOOR = 0.3  # severity of an issue just past its threshold
TASTE_WEIGHT = 0.5  # composition and style advice matter less than defects

# Tilt, degrees: under 0.7° few people notice; 6° is obviously crooked.
TILT_MIN_DEG = 0.7
TILT_FULL_DEG = 6.0
# Blown highlights (all channels >= 250), % of frame: specular glints stay under 0.5%.
HIGHLIGHTS_MIN_PCT = 0.5
HIGHLIGHTS_FULL_PCT = 10.0
# Crushed shadows (all channels <= 5), % of frame: deep blacks in a few places are fine.
SHADOWS_MIN_PCT = 3.0
SHADOWS_FULL_PCT = 25.0
# Exposure vs. middle grey, EV: real scenes vary by about a stop either way.
DARK_EV = -1.5
BRIGHT_EV = 1.5
EV_FULL = 3.0  # |EV| at full severity
EV_TARGET = 0.5  # how far from middle grey the advised correction stops
# Colour cast, ΔE: the grey-edge estimate reads up to ~10 on well-balanced colourful
# scenes (the test photos coffee 9.1, rocket 8.8), above the spec's visible 3-6.
CAST_MIN_DE = 12.0
CAST_FULL_DE = 35.0
# Noise σ, 8-bit levels at analysis size: clean photos read 0.3-2.5.
NOISE_MIN_SIGMA = 4.0
NOISE_FULL_SIGMA = 12.0
# Subject sharpness (0-1): sharp photos read 0.7-0.97, a σ 4 px blur about 0.03.
SOFT_SUBJECT = 0.5
SOFT_FULL = 0.1
# Background as sharp as the subject, when the background is crisp and the subject
# leaves room for it.
ISOLATION_MAX_RATIO = 1.05
ISOLATION_MIN_BACKGROUND = 0.9
ISOLATION_MAX_FILL_PCT = 40.0
# Subject dead centre: within this fraction of the frame of the centre, and small
# enough to move.
CENTRED_MAX_DISTANCE = 0.05
CENTRED_FULL_DISTANCE = 0.0
CENTRED_MAX_FILL_PCT = 50.0
# Subject fills little of the frame, % of frame.
SMALL_SUBJECT_PCT = 4.0
SMALL_SUBJECT_FULL_PCT = 1.0
# Flat tones: 2nd-98th percentile luma spread (0-1); ordinary photos read 0.5-0.95.
FLAT_TONAL_RANGE = 0.4
FLAT_FULL_RANGE = 0.15
CONTRAST_WEIGHT = 0.7
# Highly saturated pixels, % of frame: a vivid subject alone stays under 40%.
SATURATED_PCT = 40.0
SATURATED_FULL_PCT = 70.0

# --- the scene (critique_app.core.scene) ------------------------------------------------
# Scenes whose darkness is the picture: raising the exposure would turn a night, a blue
# hour, a star field, a low-key portrait or a silhouette into a grey daylight frame, and
# their crushed blacks are the sky or the shape, not lost detail.
DARK_KINDS = ("night", "blue-hour", "astro", "low-key", "silhouette")
# Scenes wanted sharp from front to back (the setting is the picture, and at night the
# aperture is opened for light, not for blur): "open the aperture to blur the
# background" does not fit them.
WIDE_KINDS = ("landscape", "architecture", "astro", "street", "night", "blue-hour")
# ... unless a close subject is at least as clear: a portrait at blue hour may still want
# its background soft.
CLOSE_KINDS = ("portrait", "macro", "still-life")
BRIGHT_KINDS = ("high-key",)  # brightness is the look: "lower the exposure" does not fit
# Lamps against a twilight or night sky mix warm and cool light: that mix is the look,
# and no grey in the frame was lit by one light, so "neutralise the cast" does not fit.
MIXED_LIGHT_KINDS = ("night", "blue-hour")
# A star field has no single subject to move closer to or to put on a thirds point.
FIELD_KINDS = ("astro",)
# Blur is the point of a panning shot or a long exposure: "refocus" does not fit.
MOTION_KINDS = ("intentional-motion",)
CUES_CITED = 2  # a scene's strongest cues quoted as the reason advice changed

# --- EXIF (critique_app.core.photo.decoded.ExifSummary) ----------------------------------
# Handheld shutter speed: at least 1/(HANDHELD_FACTOR x the 35 mm-equivalent focal
# length) s. The film-era rule was 1/focal; today's dense sensors show the shake of that
# speed at full size, so twice as fast.
HANDHELD_FACTOR = 2.0
# With no focal length recorded, slower than this is slow for a handheld shot with any
# ordinary lens (a 1/(2 x 15 mm) wide angle).
HANDHELD_ANY_LENS_S = 1 / 30
# From this ISO, sensor gain is the likely source of visible noise (most cameras' noise
# shows at full size from ISO 1600-3200); at or under LOW_ISO it is not: the noise came
# from lifting dark tones in editing, or from the file's compression.
HIGH_ISO = 1600
LOW_ISO = 400
# Exposure compensation this far from 0 (one third of a stop, the smallest step cameras
# dial) is a choice the advice can name.
BIAS_MIN_EV = 0.3


@dataclass(frozen=True)
class Suggestion:
    id: str
    action: str  # imperative, concrete
    evidence: str  # the measured facts it rests on, with numbers and units
    severity: float  # 0-1
    category: str  # "composition", "exposure", "colour", "focus" or "noise"
    keys: tuple[str, ...]
    region: Region | None = None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "action": self.action,
            "evidence": self.evidence,
            "severity": self.severity,
            "category": self.category,
            "keys": list(self.keys),
            "region": list(self.region) if self.region else None,
        }


def severity(value: float, start: float, full: float, weight: float = 1.0) -> float:
    """SEVERITY_FLOOR at ``start``, 1 at ``full`` (either direction), times ``weight``."""
    progress = min(max((value - start) / (full - start), 0.0), 1.0)
    return round(weight * (SEVERITY_FLOOR + (1.0 - SEVERITY_FLOOR) * progress), 3)


def _half_stops(ev: float) -> float:
    return max(0.5, round(ev * 2) / 2)


Rule = Callable[[Mapping[str, object]], Suggestion | None]


@dataclass
class Advice:
    """The suggestions, and the advice the scene set aside with its reason ("Not advised:
    raising the exposure: ..."), for the critique to show beside them."""

    suggestions: list[Suggestion]
    set_aside: list[str] = field(default_factory=list)


def _straighten(m: Mapping[str, object]) -> Suggestion | None:
    tilt = number(m, "horizon.tilt_deg")
    if tilt is None or abs(tilt) < TILT_MIN_DEG:
        return None
    verticals = word(m, "horizon.reference") == "verticals"
    opposite = direction(-tilt)
    goal = "straighten the verticals" if verticals else "level the horizon"
    measured = "the verticals" if verticals else "the horizon line"
    what = "The scene" if verticals else "The horizon"
    return Suggestion(
        "straighten",
        f"Rotate {abs(tilt):.1f}° {opposite} to {goal}.",
        f"{what} tilts {abs(tilt):.1f}° {direction(tilt)} (measured on {measured}).",
        severity(abs(tilt), TILT_MIN_DEG, TILT_FULL_DEG), "composition",
        ("horizon.tilt_deg", "horizon.reference") if verticals else ("horizon.tilt_deg",))


def _recover_highlights(m: Mapping[str, object]) -> Suggestion | None:
    share = number(m, "exposure.highlights_clipped_pct")
    if share is None or share < HIGHLIGHTS_MIN_PCT:
        return None
    where = word(m, "exposure.highlights_clipped_where")
    at = f" {place(where)}" if where else ""
    keys = ("exposure.highlights_clipped_pct",) + (
        ("exposure.highlights_clipped_where",) if where else ())
    return Suggestion(
        "recover-highlights",
        f"Pull down the highlights{at} (highlights slider, or less exposure) to win back "
        "what detail the file holds; next time expose for the brightest part.",
        f"{pct(share)} of the frame is blown to pure white{', mostly' + at if where else ''}.",
        severity(share, HIGHLIGHTS_MIN_PCT, HIGHLIGHTS_FULL_PCT), "exposure", keys,
        cell_box(where))


def _lift_shadows(m: Mapping[str, object]) -> Suggestion | None:
    share = number(m, "exposure.shadows_clipped_pct")
    if share is None or share < SHADOWS_MIN_PCT:
        return None
    where = word(m, "exposure.shadows_clipped_where")
    at = f" {place(where)}" if where else ""
    keys = ("exposure.shadows_clipped_pct",) + (
        ("exposure.shadows_clipped_where",) if where else ())
    return Suggestion(
        "lift-shadows",
        f"Lift the shadows{at} (shadows or blacks slider) to bring detail back into the "
        "crushed areas, unless the black is meant to be graphic.",
        f"{pct(share)} of the frame is crushed to pure black{', mostly' + at if where else ''}.",
        severity(share, SHADOWS_MIN_PCT, SHADOWS_FULL_PCT), "exposure", keys, cell_box(where))


def _too_dark(m: Mapping[str, object]) -> bool:
    ev = number(m, "exposure.ev_vs_middle_grey")
    highlights = number(m, "exposure.highlights_clipped_pct") or 0.0
    # With blown highlights, brightening would blow more: that is lift-shadows' job.
    return ev is not None and ev <= DARK_EV and highlights < HIGHLIGHTS_MIN_PCT


def _too_bright(m: Mapping[str, object]) -> bool:
    ev = number(m, "exposure.ev_vs_middle_grey")
    return ev is not None and ev >= BRIGHT_EV


def _exposure_evidence(ev: float, m: Mapping[str, object]) -> str:
    text = f"Exposure is {abs(ev):.1f} EV {'above' if ev > 0 else 'below'} middle grey"
    median = number(m, "exposure.median_luminance")
    if median is not None:
        text += f", with a median brightness of {median:.2f} (0 black, 1 white)"
    return text + "."


def _exposure_keys(m: Mapping[str, object]) -> tuple[str, ...]:
    keys = ("exposure.ev_vs_middle_grey", "exposure.median_luminance")
    return tuple(k for k in keys if m.get(k) is not None)


def _brighten(m: Mapping[str, object]) -> Suggestion | None:
    if not _too_dark(m):
        return None
    ev = number(m, "exposure.ev_vs_middle_grey")
    return Suggestion(
        "brighten",
        f"Raise the exposure by about {_half_stops(-ev - EV_TARGET):.1f} EV, watching that "
        "the brightest areas do not blow out.",
        _exposure_evidence(ev, m), severity(-ev, -DARK_EV, EV_FULL), "exposure",
        _exposure_keys(m))


def _darken(m: Mapping[str, object]) -> Suggestion | None:
    if not _too_bright(m):
        return None
    ev = number(m, "exposure.ev_vs_middle_grey")
    return Suggestion(
        "darken",
        f"Lower the exposure by about {_half_stops(ev - EV_TARGET):.1f} EV, unless the scene "
        "is meant to be bright (snow, a high-key portrait).",
        _exposure_evidence(ev, m), severity(ev, BRIGHT_EV, EV_FULL), "exposure",
        _exposure_keys(m))


def _white_balance_fix(m: Mapping[str, object], strength: float) -> str:
    a, b = number(m, "color.cast_a"), number(m, "color.cast_b")
    if a is None or b is None:
        return "set the white balance on something that should be neutral grey"
    moves = []
    # Name only the axes that carry a good part of the cast.
    if abs(b) >= 0.35 * strength:
        moves.append("temperature cooler (towards blue)" if b > 0
                     else "temperature warmer (towards yellow)")
    if abs(a) >= 0.35 * strength:
        moves.append("tint towards green" if a > 0 else "tint towards magenta")
    return "move the " + " and the ".join(moves) + ", or pick a neutral grey with the eyedropper"


def _neutralise_cast(m: Mapping[str, object]) -> Suggestion | None:
    strength = number(m, "color.cast_strength")
    if strength is None or strength < CAST_MIN_DE:
        return None
    lean = word(m, "color.cast_direction")
    if lean == "neutral":
        lean = None
    keys = tuple(k for k in ("color.cast_strength", "color.cast_direction", "color.cast_a",
                             "color.cast_b") if m.get(k) is not None)
    return Suggestion(
        "neutralise-cast",
        f"Correct the {lean + ' ' if lean else ''}colour cast: "
        f"{_white_balance_fix(m, strength)}.",
        f"Neutral tones lean {lean or 'off-grey'}, with a cast strength of ΔE {strength:.1f} "
        "(balanced but colourful scenes read up to about 10).",
        severity(strength, CAST_MIN_DE, CAST_FULL_DE), "colour", keys)


def _reduce_noise(m: Mapping[str, object]) -> Suggestion | None:
    sigma = number(m, "noise.sigma")
    if sigma is None or sigma < NOISE_MIN_SIGMA:
        return None
    return Suggestion(
        "reduce-noise",
        "Apply noise reduction, luminance first and no more than hides the grain; next "
        "time use a lower ISO or more light.",
        f"Noise is σ {sigma:.1f} levels in flat areas (over 5 is visibly noisy).",
        severity(sigma, NOISE_MIN_SIGMA, NOISE_FULL_SIGMA), "noise", ("noise.sigma",))


def _refocus(m: Mapping[str, object]) -> Suggestion | None:
    key = "sharpness.subject" if number(m, "sharpness.subject") is not None else "sharpness.global"
    sharpness = number(m, key)
    if sharpness is None or sharpness >= SOFT_SUBJECT:
        return None
    evidence = (f"{'Subject' if key == 'sharpness.subject' else 'Overall'} sharpness is "
                f"{sharpness:.2f} (1 = crisp)")
    width = number(m, "sharpness.edge_width_px")
    if width is not None:
        evidence += f"; edges are blurred by {width:.1f} px"
    keys = (key,) + (("sharpness.edge_width_px",) if width is not None else ())
    return Suggestion(
        "refocus",
        "Reshoot with the focus on the subject, and a faster shutter speed if it or the "
        "camera moved; sharpening cannot recover this much blur.",
        evidence + ".", severity(sharpness, SOFT_SUBJECT, SOFT_FULL), "focus", keys,
        subject_box(m))


def _isolate_subject(m: Mapping[str, object]) -> Suggestion | None:
    ratio = number(m, "sharpness.subject_background_ratio")
    background = number(m, "sharpness.background")
    fill = number(m, "subject.frame_fill_pct")
    if ratio is None or background is None or ratio > ISOLATION_MAX_RATIO:
        return None
    if background < ISOLATION_MIN_BACKGROUND or (fill or 0.0) > ISOLATION_MAX_FILL_PCT:
        return None
    if (number(m, "noise.sigma") or 0.0) >= NOISE_MIN_SIGMA:  # grain reads as crisp detail
        return None
    keys = ("sharpness.subject_background_ratio", "sharpness.background")
    return Suggestion(
        "isolate-subject",
        "Separate the subject from its background: a wider aperture (smaller f-number), a "
        "longer focal length, or more distance between subject and background.",
        f"The background is as sharp as the subject (ratio {ratio:.2f}; background "
        f"sharpness {background:.2f}, 1 = crisp).",
        severity(background, ISOLATION_MIN_BACKGROUND, 1.0, TASTE_WEIGHT), "focus", keys,
        subject_box(m))


def _reframe_thirds(m: Mapping[str, object]) -> Suggestion | None:
    centre = number(m, "subject.centre_distance")
    fill = number(m, "subject.frame_fill_pct")
    if centre is None or centre >= CENTRED_MAX_DISTANCE or (fill or 0.0) > CENTRED_MAX_FILL_PCT:
        return None
    point = word(m, "subject.nearest_thirds_point")
    thirds = number(m, "subject.thirds_distance")
    evidence = f"The subject sits {centre:.2f} of the frame from the centre"
    named = f" ({point})" if point else ""
    if thirds is not None:
        evidence += f"; the nearest thirds point{named} is {thirds:.2f} away"
    keys = tuple(k for k in ("subject.centre_distance", "subject.thirds_distance",
                             "subject.nearest_thirds_point", "subject.box")
                 if m.get(k) is not None)
    return Suggestion(
        "reframe-thirds",
        f"Try placing the subject on a thirds point{named} rather than dead centre, unless "
        "symmetry is the point.",
        evidence + ".",
        severity(centre, CENTRED_MAX_DISTANCE, CENTRED_FULL_DISTANCE, TASTE_WEIGHT),
        "composition", keys, subject_box(m))


def _crop_tighter(m: Mapping[str, object]) -> Suggestion | None:
    fill = number(m, "subject.frame_fill_pct")
    if fill is None or fill >= SMALL_SUBJECT_PCT:
        return None
    keys = tuple(k for k in ("subject.frame_fill_pct", "subject.box") if m.get(k) is not None)
    return Suggestion(
        "crop-tighter",
        "Crop in or move closer so the subject fills more of the frame.",
        f"The subject fills only {pct(fill)} of the frame.",
        severity(fill, SMALL_SUBJECT_PCT, SMALL_SUBJECT_FULL_PCT, TASTE_WEIGHT), "composition",
        keys, subject_box(m))


def _add_contrast(m: Mapping[str, object]) -> Suggestion | None:
    tonal_range = number(m, "contrast.tonal_range")
    # A dark or bright frame is compressed at one end: fixing exposure comes first.
    if tonal_range is None or tonal_range >= FLAT_TONAL_RANGE or _too_dark(m) or _too_bright(m):
        return None
    return Suggestion(
        "add-contrast",
        "Add contrast: set the black and white points (levels, or a gentle S-curve) so the "
        "tones use more of the range.",
        f"The tones span only {tonal_range:.2f} of the black-to-white range "
        "(2nd-98th percentile).",
        severity(tonal_range, FLAT_TONAL_RANGE, FLAT_FULL_RANGE, CONTRAST_WEIGHT), "exposure",
        ("contrast.tonal_range",))


def _tame_saturation(m: Mapping[str, object]) -> Suggestion | None:
    vivid = number(m, "color.highly_saturated_pct")
    if vivid is None or vivid < SATURATED_PCT:
        return None
    return Suggestion(
        "tame-saturation",
        "Lower the saturation (or use vibrance instead) so vivid areas keep their detail.",
        f"{pct(vivid)} of the frame is highly saturated (HSV saturation over 0.8).",
        severity(vivid, SATURATED_PCT, SATURATED_FULL_PCT, TASTE_WEIGHT), "colour",
        ("color.highly_saturated_pct",))


RULES: tuple[Rule, ...] = (
    _straighten, _recover_highlights, _lift_shadows, _brighten, _darken, _neutralise_cast,
    _reduce_noise, _refocus, _isolate_subject, _reframe_thirds, _crop_tighter, _add_contrast,
    _tame_saturation,
)


def suggest(measurements: Mapping[str, object], *, scene=None, exif=None,
            limit: int | None = None) -> list[Suggestion]:
    """Suggestions the measurements justify, fitted to ``scene`` (a
    :class:`~critique_app.core.scene.Scene`) and explained by ``exif`` (an
    :class:`~critique_app.core.photo.decoded.ExifSummary`) when given; most severe first
    (ties by id)."""
    return advise(measurements, scene=scene, exif=exif, limit=limit).suggestions


def advise(measurements: Mapping[str, object], *, scene=None, exif=None,
           limit: int | None = None) -> Advice:
    """:func:`suggest`'s suggestions with the advice the scene set aside, each with why."""
    found = {s.id: s for rule in RULES if (s := rule(measurements))}
    advice = Advice([])
    if scene is not None:
        _fit_scene(found, measurements, scene, advice.set_aside)
    if exif is not None:
        _explain_with_exif(found, exif)
    advice.suggestions = sorted(found.values(), key=lambda s: (-s.severity, s.id))
    if limit is not None:
        advice.suggestions = advice.suggestions[:max(0, limit)]
    return advice


def _article(name: str) -> str:
    return "an" if name[0] in "aeiou" else "a"


def _scene_kind(scene, names: tuple[str, ...]):
    """The most confident kind among ``names`` that the critique acts on, or None."""
    return next((k for k in scene.confident() if k.name in names), None)


def _because(kind, cited: set[str] | None = None) -> str:
    """'a night scene (cues: 14 point light sources ...; ...)'; a kind already in
    ``cited`` is named without its cues again."""
    if cited is not None and kind.name in cited:
        return f"this {kind.name} scene"
    if cited is not None:
        cited.add(kind.name)
    cues = "; ".join(c.text for c in kind.cues[:CUES_CITED])
    return f"{_article(kind.name)} {kind.name} scene" + (f" (cues: {cues})" if cues else "")


def _fit_scene(found: dict[str, Suggestion], m: Mapping[str, object], scene,
               set_aside: list[str]) -> None:
    """Advice that does not fit the scene is set aside, or recast, with the reason."""
    cited: set[str] = set()  # each kind's cues are quoted once
    dark = _scene_kind(scene, DARK_KINDS)
    if dark is not None:
        brighten = found.pop("brighten", None)
        if brighten:
            ev = number(m, "exposure.ev_vs_middle_grey")
            set_aside.append(f"Not advised: raising the exposure ({-ev:.1f} EV below middle "
                             f"grey): the dark is the point of {_because(dark, cited)}.")
        # (brighten never fires with blown highlights: _too_dark)
        if lights := found.get("recover-highlights"):  # lamps or the moon blow: protect them
            where = word(m, "exposure.highlights_clipped_where")
            at = f" {place(where)}" if where else ""
            found[lights.id] = replace(
                lights, action=f"Protect the lights: pull down the highlights{at} to win back "
                "what detail the file holds, and keep the overall exposure where it is; next "
                "time expose for the lights.",
                evidence=f"{lights.evidence} Raising the exposure is not advised: the dark is "
                f"the point of {_because(dark, cited)}.")
        shadows = found.pop("lift-shadows", None)
        if shadows:
            share = number(m, "exposure.shadows_clipped_pct")
            set_aside.append(f"Not advised: lifting the shadows ({pct(share)} crushed to "
                             f"black): keep the blacks of {_because(dark, cited)}.")
    wide = _scene_kind(scene, WIDE_KINDS)
    close = _scene_kind(scene, CLOSE_KINDS)
    closer = close is not None and close.confidence >= (wide.confidence if wide else 0.0)
    if wide is not None and not closer and found.pop("isolate-subject", None):
        set_aside.append("Not advised: a wider aperture to blur the background: "
                         f"{_because(wide, cited)} is usually wanted sharp from front to back.")
    bright = _scene_kind(scene, BRIGHT_KINDS)
    blown = number(m, "exposure.highlights_clipped_pct") or 0.0
    # A high-key look keeps its detail: past HIGHLIGHTS_FULL_PCT blown, it is overexposed.
    if bright is not None and blown < HIGHLIGHTS_FULL_PCT and found.pop("darken", None):
        set_aside.append(f"Not advised: lowering the exposure: brightness is the look of "
                         f"{_because(bright, cited)}.")
    field_kind = _scene_kind(scene, FIELD_KINDS)
    if field_kind is not None:
        for rule_id, what in (("crop-tighter", "cropping in on one subject"),
                              ("reframe-thirds", "moving one subject onto a thirds point")):
            if found.pop(rule_id, None):
                set_aside.append(f"Not advised: {what}: {_because(field_kind, cited)} is a field, "
                                 "not a single subject.")
    mixed = _scene_kind(scene, MIXED_LIGHT_KINDS)
    if mixed is not None and found.pop("neutralise-cast", None):
        strength = number(m, "color.cast_strength")
        set_aside.append(f"Not advised: neutralising the colour cast (ΔE {strength:.1f}): the "
                         f"mix of lamps and sky is the light of {_because(mixed, cited)}; "
                         "warm or cool it only to taste.")
    motion = _scene_kind(scene, MOTION_KINDS)
    if motion is not None and found.pop("refocus", None):
        set_aside.append(f"Not advised: a sharper reshoot: the blur is the point of "
                         f"{_because(motion, cited)}.")


def _shutter(seconds: float) -> str:
    return f"{seconds:g} s" if seconds >= 1 else f"1/{round(1 / seconds)} s"


def _explain_with_exif(found: dict[str, Suggestion], exif) -> None:
    """Where a recorded setting explains a measured fault, the advice names the setting."""
    if (blur := found.get("refocus")) and exif.shutter_s:
        found[blur.id] = _motion_blur(blur, exif)
    if (noise := found.get("reduce-noise")) and exif.iso:
        found[noise.id] = _high_iso(noise, exif.iso)
    bias = exif.exposure_bias_ev
    if bias is not None and abs(bias) >= BIAS_MIN_EV:
        # the one suggestion the compensation explains best: the blown highlights, else
        # the overall exposure
        ids = ("recover-highlights", "darken") if bias > 0 else ("brighten",)
        rule_id = next((i for i in ids if i in found), None)
        if rule_id is not None:
            item = found[rule_id]
            found[rule_id] = replace(
                item, action=f"Dial the exposure compensation back from {bias:+.1f} EV "
                f"towards 0 next time. {item.action}",
                evidence=f"{item.evidence} It was shot with {bias:+.1f} EV of exposure "
                "compensation (EXIF).")


def _motion_blur(blur: Suggestion, exif) -> Suggestion:
    shutter = exif.shutter_s
    focal = exif.focal_length_35mm or exif.focal_length_mm
    if focal:
        slowest = 1 / (HANDHELD_FACTOR * focal)
        which = ("35 mm-equivalent focal length" if exif.focal_length_35mm
                 else "focal length; its 35 mm equivalent was not recorded")
        limit = (f"the handheld limit of about {_shutter(slowest)} at {focal:g} mm "
                 f"(1/({HANDHELD_FACTOR:g} x the {which})")
        needed = f"at least {_shutter(slowest)}"
    else:
        slowest = HANDHELD_ANY_LENS_S
        limit = f"{_shutter(slowest)}, the handheld limit for any ordinary lens"
        needed = f"{_shutter(slowest)} or faster"
    shot = f"{blur.evidence[:-1]}; it was shot at {_shutter(shutter)} (EXIF)"
    if shutter > slowest * 1.01:  # slower than the limit: camera or subject shake
        return replace(blur, action=f"Use a shutter speed of {needed}, or steady the camera "
                       "(a tripod, a support, stabilisation); sharpening cannot recover this "
                       "much blur.", evidence=f"{shot}, slower than {limit}.")
    return replace(blur, action="Reshoot with the focus on the subject; the shutter was fast "
                   "enough, so the blur is focus, not shake.",
                   evidence=f"{shot}, within {limit}.")


def _high_iso(noise: Suggestion, iso: int) -> Suggestion:
    if iso >= HIGH_ISO:
        return replace(noise, action="Denoise (luminance first, no more than hides the grain); "
                       "next time expose to the right at base ISO (usually 100-200) where the "
                       "light allows (a longer shutter on a support, a wider aperture) rather "
                       f"than ISO {iso}.",
                       evidence=f"{noise.evidence[:-1]}; it was shot at ISO {iso} (EXIF), "
                       f"where sensor gain makes noise (from about ISO {HIGH_ISO}).")
    if iso <= LOW_ISO:
        return replace(noise, action="Apply noise reduction, luminance first; at this low ISO "
                       "the grain comes from brightening dark tones, so next time expose "
                       "brighter in camera rather than lifting them in editing.",
                       evidence=f"{noise.evidence[:-1]}; it was shot at ISO {iso} (EXIF), too "
                       "low for the sensor's gain to make this much noise.")
    return replace(noise, evidence=f"{noise.evidence[:-1]}; it was shot at ISO {iso} (EXIF).")


def suggestions_prompt(suggestions: list[Suggestion], set_aside: list[str] | tuple = ()) -> str:
    """The measured problems as the block a vision-language model's suggestions prompt
    carries (the critic and the trainer both use it, so they never drift apart), and the
    advice the scene set aside, so the model does not give it either."""
    blocks = []
    if suggestions:
        blocks.append("Measured problems and fixes:\n" + "\n".join(
            f"- {s.action} ({s.evidence})" for s in suggestions))
    if set_aside:
        blocks.append("Advice that does not fit this scene:\n" + "\n".join(
            f"- {note}" for note in set_aside))
    return "\n".join(blocks)
