"""Concrete edits and reshoot advice from the measurements alone: a deterministic rule engine.

Each rule fires only past a threshold below which the issue is either not
visible or not worth a photographer's time, so a good photo gets few or no
suggestions. Severity (0-1) starts at ``SEVERITY_FLOOR`` at the threshold and
grows linearly to 1 at the rule's "full" value, scaled by how much the rule is
a defect rather than a matter of taste (``TASTE_WEIGHT``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

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


def suggest(measurements: Mapping[str, object], *, limit: int | None = None) -> list[Suggestion]:
    """Suggestions the measurements justify, most severe first (ties by id)."""
    found = [s for rule in RULES if (s := rule(measurements))]
    found.sort(key=lambda s: (-s.severity, s.id))
    return found if limit is None else found[:max(0, limit)]


def suggestions_prompt(suggestions: list[Suggestion]) -> str:
    """The measured problems as the block a vision-language model's suggestions prompt
    carries (the critic and the trainer both use it, so they never drift apart)."""
    if not suggestions:
        return ""
    return "Measured problems and fixes:\n" + "\n".join(
        f"- {s.action} ({s.evidence})" for s in suggestions)
