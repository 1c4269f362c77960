"""Grounding facts: the measurements a critique may cite, as plain sentences with units.

Every sentence states the measured number and its unit, so a generated critique
can quote it rather than guess. A fact is made only from keys that were
measured; absent keys (or None values) leave it out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from numbers import Real

TOPICS = ("light", "colour", "composition", "focus", "noise", "depth")

Region = tuple[float, float, float, float]  # [left, top, right, bottom] as fractions

# Subject positions (fraction of the frame) that count as "at" the centre or a thirds point.
NEAR_CENTRE = 0.08
NEAR_THIRDS = 0.08
# Subject / background sharpness ratios that read as clearly sharper / softer.
SHARPER_RATIO = 1.15
SOFTER_RATIO = 0.87
# noise.sigma (8-bit levels): the spec's clean and visibly-noisy limits.
CLEAN_SIGMA = 1.5
NOISY_SIGMA = 5.0
VISIBLE_CAST = 3.0  # ΔE; a weaker cast is hard to see


@dataclass(frozen=True)
class Fact:
    topic: str  # one of TOPICS
    sentence: str
    keys: tuple[str, ...]
    region: Region | None = None


def number(measurements: Mapping[str, object], key: str) -> float | None:
    """A finite numeric measurement, or None when it is absent or not a number."""
    value = measurements.get(key)
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def word(measurements: Mapping[str, object], key: str) -> str | None:
    value = measurements.get(key)
    return value if isinstance(value, str) and value else None


def subject_box(measurements: Mapping[str, object]) -> Region | None:
    box = measurements.get("subject.box")
    if not isinstance(box, list | tuple) or len(box) != 4:
        return None
    if not all(isinstance(v, Real) and not isinstance(v, bool) for v in box):
        return None
    left, top, right, bottom = (float(v) for v in box)
    return left, top, right, bottom


_ROWS = {"top": 0, "bottom": 2}
_COLS = {"left": 0, "right": 2}


def cell_box(where: str | None) -> Region | None:
    """The 3x3 grid cell that ``grid_region`` names ("top" is the top-centre cell)."""
    if not where:
        return None
    parts = where.split("-")
    if not all(p in _ROWS or p in _COLS or p == "centre" for p in parts):
        return None
    row = next((_ROWS[p] for p in parts if p in _ROWS), 1)
    col = next((_COLS[p] for p in parts if p in _COLS), 1)
    return col / 3, row / 3, (col + 1) / 3, (row + 1) / 3


def place(where: str) -> str:
    """A grid cell in a sentence: "at the top left", "on the left", "in the centre"."""
    if where == "centre":
        return "in the centre"
    if where in ("left", "right"):
        return f"on the {where}"
    return "at the " + where.replace("-", " ")


def pct(value: float) -> str:
    """A share of the frame, one decimal; a tiny non-zero share is not shown as 0.0%."""
    if 0 < value < 0.05:
        return "under 0.1%"
    return f"{value:.1f}%"


def direction(tilt_deg: float) -> str:
    return "clockwise" if tilt_deg > 0 else "counter-clockwise"


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:]


def _present(measurements: Mapping[str, object], keys: Iterable[str]) -> tuple[str, ...]:
    return tuple(k for k in keys if measurements.get(k) is not None)


# Each builder returns one fact, or None when its key measurements are missing.

def _exposure(m: Mapping[str, object]) -> Fact | None:
    ev = number(m, "exposure.ev_vs_middle_grey")
    if ev is None:
        return None
    if abs(ev) < 0.05:
        text = "Exposure sits at middle grey (0.0 EV)"
    else:
        text = f"Exposure is {abs(ev):.1f} EV {'above' if ev > 0 else 'below'} middle grey"
    median = number(m, "exposure.median_luminance")
    if median is not None:
        text += f", with a median brightness of {median:.2f} (0 black, 1 white)"
    keys = _present(m, ("exposure.ev_vs_middle_grey", "exposure.median_luminance"))
    return Fact("light", text + ".", keys)


def _clipping(m: Mapping[str, object], kind: str) -> Fact | None:
    share = number(m, f"exposure.{kind}_clipped_pct")
    if share is None:
        return None
    where = word(m, f"exposure.{kind}_clipped_where")
    result = "blown to pure white" if kind == "highlights" else "crushed to pure black"
    text = f"{pct(share)} of the frame is {result}"
    if share == 0:
        text = f"No part of the frame is {result}"
    if where:
        text += f", mostly {place(where)}"
    channel = number(m, "exposure.any_channel_clipped_pct") if kind == "highlights" else None
    if channel is not None and channel >= 0.05:
        text += f"; {pct(channel)} has at least one colour channel clipped"
    keys = _present(m, (f"exposure.{kind}_clipped_pct", f"exposure.{kind}_clipped_where"))
    if channel is not None and kind == "highlights":
        keys += ("exposure.any_channel_clipped_pct",)
    return Fact("light", _sentence(text) + ".", keys, cell_box(where))


def _contrast(m: Mapping[str, object]) -> Fact | None:
    tonal_range = number(m, "contrast.tonal_range")
    if tonal_range is None:
        return None
    text = f"The tones span {tonal_range:.2f} of the black-to-white range (2nd-98th percentile"
    rms = number(m, "contrast.rms")
    if rms is not None:
        text += f"; RMS contrast {rms:.2f}"
    return Fact("light", text + ").", _present(m, ("contrast.tonal_range", "contrast.rms")))


def _cast(m: Mapping[str, object]) -> Fact | None:
    strength = number(m, "color.cast_strength")
    if strength is None:
        return None
    lean = word(m, "color.cast_direction")
    if lean is None:
        lean = "neutral" if strength < VISIBLE_CAST else None
    if lean == "neutral":
        text = (f"Neutral tones show no visible cast (strength ΔE {strength:.1f}; "
                "under 3 is hard to see).")
    elif lean:
        text = f"Neutral tones lean {lean}, with a cast strength of ΔE {strength:.1f}."
    else:
        text = f"Neutral tones carry a colour cast of strength ΔE {strength:.1f}."
    return Fact("colour", text, _present(m, ("color.cast_strength", "color.cast_direction")))


def _saturation(m: Mapping[str, object]) -> Fact | None:
    clauses = []
    colorfulness = number(m, "color.colorfulness")
    if colorfulness is not None:
        level = word(m, "color.colorfulness_level")
        clauses.append(f"colourfulness is {colorfulness:.1f} M" + (f" ({level})" if level else ""))
    saturation = number(m, "color.mean_saturation")
    if saturation is not None:
        clauses.append(f"mean saturation is {saturation:.2f}")
    vivid = number(m, "color.highly_saturated_pct")
    if vivid is not None:
        clauses.append(f"{pct(vivid)} of the frame is highly saturated")
    if not clauses:
        return None
    keys = _present(m, ("color.colorfulness", "color.colorfulness_level",
                        "color.mean_saturation", "color.highly_saturated_pct"))
    return Fact("colour", _sentence("; ".join(clauses)) + ".", keys)


def _tilt(m: Mapping[str, object]) -> Fact | None:
    tilt = number(m, "horizon.tilt_deg")
    if tilt is None:
        return None
    reference = word(m, "horizon.reference")
    on = {"horizon": "the horizon line", "verticals": "the verticals"}.get(reference or "")
    what = "The horizon" if reference == "horizon" else "The scene"
    if abs(tilt) < 0.05:
        text = f"{what} is level (0.0°"
        text += f", measured on {on})." if on else ")."
    else:
        text = f"{what} tilts {abs(tilt):.1f}° {direction(tilt)}"
        text += f" (measured on {on})." if on else "."
    return Fact("composition", text, _present(m, ("horizon.tilt_deg", "horizon.reference")))


def _subject_position(m: Mapping[str, object]) -> Fact | None:
    centre = number(m, "subject.centre_distance")
    thirds = number(m, "subject.thirds_distance")
    point = word(m, "subject.nearest_thirds_point")
    nearest = f"the nearest thirds point ({point})" if point else "the nearest thirds point"
    if centre is not None and centre < NEAR_CENTRE:
        text = f"The subject sits near the frame centre ({centre:.2f} of the frame away)"
        if thirds is not None:
            text += f"; {nearest} is {thirds:.2f} of the frame away"
    elif thirds is not None and thirds < NEAR_THIRDS:
        text = f"The subject sits on {nearest}, {thirds:.2f} of the frame away"
    elif thirds is not None:
        text = f"The subject sits {thirds:.2f} of the frame from {nearest}"
        if centre is not None:
            text += f" and {centre:.2f} from the centre"
    elif centre is not None:
        text = f"The subject sits {centre:.2f} of the frame from the centre"
    else:
        return None
    keys = _present(m, ("subject.centre_distance", "subject.thirds_distance",
                        "subject.nearest_thirds_point", "subject.box"))
    return Fact("composition", text + ".", keys, subject_box(m))


def _subject_size(m: Mapping[str, object]) -> Fact | None:
    fill = number(m, "subject.frame_fill_pct")
    if fill is None:
        return None
    keys = _present(m, ("subject.frame_fill_pct", "subject.box"))
    return Fact("composition", f"The subject fills {pct(fill)} of the frame.", keys,
                subject_box(m))


def _isolation(m: Mapping[str, object]) -> Fact | None:
    ratio = number(m, "sharpness.subject_background_ratio")
    subject = number(m, "sharpness.subject")
    background = number(m, "sharpness.background")
    if ratio is None:
        if subject is None:
            return None
        text = f"The subject's sharpness is {subject:.2f} (1 = crisp)."
    else:
        if ratio >= SHARPER_RATIO:
            text = f"The subject is sharper than the background (ratio {ratio:.2f}"
        elif ratio <= SOFTER_RATIO:
            text = f"The background is sharper than the subject (ratio {ratio:.2f}"
        else:
            text = f"The background is as sharp as the subject (ratio {ratio:.2f}"
        if subject is not None and background is not None:
            text += f"; sharpness {subject:.2f} vs {background:.2f}, 1 = crisp"
        text += ")."
    keys = _present(m, ("sharpness.subject_background_ratio", "sharpness.subject",
                        "sharpness.background"))
    return Fact("focus", text, keys, subject_box(m))


def _sharpness(m: Mapping[str, object]) -> Fact | None:
    overall = number(m, "sharpness.global")
    if overall is None:
        return None
    text = f"Overall sharpness is {overall:.2f} (1 = crisp everywhere)"
    width = number(m, "sharpness.edge_width_px")
    if width is not None:
        text += f"; edges are blurred by {width:.1f} px"
    blurred = number(m, "sharpness.blurred_pct")
    if blurred is not None:
        text += f"; {pct(blurred)} of the frame is blurred"
    keys = _present(m, ("sharpness.global", "sharpness.edge_width_px", "sharpness.blurred_pct"))
    return Fact("focus", text + ".", keys)


def _noise(m: Mapping[str, object]) -> Fact | None:
    sigma = number(m, "noise.sigma")
    if sigma is None:
        return None
    if sigma < CLEAN_SIGMA:
        verdict = "clean"
    elif sigma <= NOISY_SIGMA:
        verdict = "slight, rarely visible"
    else:
        verdict = "visibly noisy"
    return Fact("noise", f"Noise is σ {sigma:.1f} levels, {verdict}.", ("noise.sigma",))


def _depth(stats: Mapping[str, object]) -> Fact | None:
    clauses, keys = [], []
    spread = number(stats, "range_p5_p95")
    if spread is not None:
        clauses.append(f"relative depth spans {spread:.2f} of its scale (5th-95th percentile)")
        keys.append("depth.range_p5_p95")
    near = number(stats, "near_share_pct")
    if near is not None:
        clauses.append(f"{pct(near)} of the frame is near")
        keys.append("depth.near_share_pct")
    mean = number(stats, "mean")
    if mean is not None:
        clauses.append(f"mean nearness is {mean:.2f} (1 = nearest)")
        keys.append("depth.mean")
    if not clauses:
        return None
    return Fact("depth", _sentence("; ".join(clauses)) + ".", tuple(keys))


_BUILDERS: tuple[Callable[[Mapping[str, object]], Fact | None], ...] = (
    _exposure,
    lambda m: _clipping(m, "highlights"),
    lambda m: _clipping(m, "shadows"),
    _contrast,
    _cast,
    _saturation,
    _tilt,
    _subject_position,
    _subject_size,
    _isolation,
    _sharpness,
    _noise,
)


def measured_facts(measurements: Mapping[str, object],
                   stats_by_map: Mapping[str, Mapping[str, float]] | None = None) -> list[Fact]:
    """The facts the measurements support, in topic order (light ... depth).

    ``stats_by_map`` is each map's ``stats`` by name; a "depth" entry
    adds one depth fact.
    """
    facts = [fact for build in _BUILDERS if (fact := build(measurements))]
    depth_stats = (stats_by_map or {}).get("depth")
    if depth_stats and (fact := _depth(depth_stats)):
        facts.append(fact)
    return sorted(facts, key=lambda fact: TOPICS.index(fact.topic))  # stable within a topic


def facts_text(facts: Iterable[Fact]) -> str:
    """The facts as "- sentence" lines, for a prompt."""
    return "\n".join(f"- {fact.sentence}" for fact in facts)
