"""Suggestions and grounding facts, on real photos degraded in known ways."""

from __future__ import annotations

import functools
import json
import re

import cv2
import numpy as np
import pytest

from critique_app.core.analysis.analyzer import analyze
from critique_app.core.critic.facts import TOPICS, Fact, facts_text, measured_facts
from critique_app.core.critic.suggestions import suggest
from tests.helpers.photo_edits import as_photo, rotate_and_crop
from tests.helpers.photos import load_rgb


def _scaled(rgb: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def _blue_cut(rgb: np.ndarray) -> np.ndarray:
    tinted = rgb.astype(np.float32)
    tinted[..., 2] *= 0.6
    return tinted.astype(np.uint8)


def _noisy(rgb: np.ndarray) -> np.ndarray:
    noise = np.random.default_rng(0).normal(0.0, 12.0, rgb.shape)
    return np.clip(rgb + noise, 0, 255).astype(np.uint8)


EDITS = {
    "original": lambda rgb: rgb,
    "clockwise": lambda rgb: rotate_and_crop(rgb, 4.0),
    "counter-clockwise": lambda rgb: rotate_and_crop(rgb, -4.0),
    "over-exposed": lambda rgb: _scaled(rgb, 1.8),
    "under-exposed": lambda rgb: _scaled(rgb, 0.35),
    "blue cut": _blue_cut,
    "noisy": _noisy,
    "blurred": lambda rgb: cv2.GaussianBlur(rgb, (0, 0), 4.0),
}

# What a sound photo must not be told to fix.
DEFECTS = {"straighten", "recover-highlights", "lift-shadows", "brighten", "darken",
           "neutralise-cast", "reduce-noise", "refocus", "add-contrast"}


@functools.cache
def _measurements(name: str, edit: str) -> dict[str, object]:
    return analyze(as_photo(EDITS[edit](load_rgb(name))), depth=False).measurements


def _suggestions(name: str, edit: str):
    return suggest(_measurements(name, edit))


def _by_id(suggestions):
    return {s.id: s for s in suggestions}


def _degrees(text: str) -> float:
    return float(re.search(r"(\d+(?:\.\d+)?)°", text).group(1))


@pytest.mark.parametrize(("edit", "turn"), [("clockwise", "counter-clockwise"),
                                            ("counter-clockwise", "clockwise")])
def test_tilted_photo_is_told_to_rotate_back(edit, turn):
    suggestions = _suggestions("camera", edit)
    straighten = suggestions[0]
    assert straighten.id == "straighten" and straighten.category == "composition"
    assert f"{turn} to" in straighten.action
    assert _degrees(straighten.action) == pytest.approx(4.0, abs=1.5)
    assert _degrees(straighten.evidence) == pytest.approx(4.0, abs=1.5)
    assert "horizon.tilt_deg" in straighten.keys


@pytest.mark.parametrize("name", ["chelsea", "coffee"])
def test_over_exposed_photo_is_told_to_recover_highlights(name):
    suggestions = _suggestions(name, "over-exposed")
    assert {s.id for s in suggestions[:2]} & {"recover-highlights", "darken"}
    highlights = _by_id(suggestions)["recover-highlights"]
    assert "%" in highlights.evidence and highlights.region is not None


@pytest.mark.parametrize("name", ["chelsea", "coffee"])
def test_under_exposed_photo_is_told_to_brighten(name):
    suggestions = _suggestions(name, "under-exposed")
    assert suggestions[0].id in {"brighten", "lift-shadows"}
    brighten = _by_id(suggestions)["brighten"]
    assert "EV" in brighten.action and "below middle grey" in brighten.evidence
    assert "add-contrast" not in _by_id(suggestions)  # the exposure fix comes first


@pytest.mark.parametrize("name", ["chelsea", "coffee"])
def test_yellow_cast_is_told_to_neutralise(name):
    cast = _by_id(_suggestions(name, "blue cut"))["neutralise-cast"]
    assert "yellow" in cast.evidence or "warm" in cast.evidence
    assert "cooler" in cast.action and "ΔE" in cast.evidence
    assert cast.severity > 0.8


@pytest.mark.parametrize("name", ["chelsea", "coffee"])
def test_noisy_photo_is_told_to_reduce_noise(name):
    noise = _by_id(_suggestions(name, "noisy"))["reduce-noise"]
    sigma = float(re.search(r"σ (\d+\.\d)", noise.evidence).group(1))
    assert sigma > 5.0 and noise.category == "noise"


@pytest.mark.parametrize("name", ["chelsea", "coffee"])
def test_blurred_photo_is_told_to_refocus(name):
    suggestions = _suggestions(name, "blurred")
    assert suggestions[0].id == "refocus"
    assert suggestions[0].region == tuple(_measurements(name, "blurred")["subject.box"])


@pytest.mark.parametrize("name", ["chelsea", "coffee"])
def test_sound_photo_gets_no_fixes(name):
    assert not {s.id for s in _suggestions(name, "original")} & DEFECTS


def test_ranking_is_by_severity_then_id_and_deterministic():
    measurements = _measurements("chelsea", "over-exposed")
    first, second = suggest(measurements), suggest(dict(reversed(measurements.items())))
    assert first == second
    assert first == sorted(first, key=lambda s: (-s.severity, s.id))
    # Two issues just past their thresholds tie on severity: the id decides.
    tied = suggest({"horizon.tilt_deg": 0.7, "exposure.highlights_clipped_pct": 0.5})
    assert [s.id for s in tied] == ["recover-highlights", "straighten"]
    assert tied[0].severity == tied[1].severity


def test_severity_grows_with_the_tilt():
    def tilt_severity(degrees):
        found = _by_id(suggest({"horizon.tilt_deg": degrees, "horizon.reference": "horizon"}))
        return found["straighten"].severity if "straighten" in found else None

    assert tilt_severity(0.5) is None and tilt_severity(-0.5) is None
    assert 0 < tilt_severity(2.0) < tilt_severity(-4.0) < tilt_severity(6.0) <= 1.0


def test_no_measurements_no_suggestions():
    assert suggest({}) == []
    assert suggest({"horizon.tilt_deg": None, "exposure.highlights_clipped_where": None}) == []


def test_limit_and_dict_form():
    measurements = _measurements("chelsea", "over-exposed")
    everything = suggest(measurements)
    assert suggest(measurements, limit=1) == everything[:1]
    assert suggest(measurements, limit=0) == []
    data = json.loads(json.dumps([s.to_dict() for s in everything]))
    assert data[0]["id"] == everything[0].id and isinstance(data[0]["keys"], list)


def test_clipping_region_is_the_grid_cell():
    found = suggest({"exposure.highlights_clipped_pct": 4.1,
                     "exposure.highlights_clipped_where": "top-left"})
    assert found[0].id == "recover-highlights"
    assert found[0].region == pytest.approx((0, 0, 1 / 3, 1 / 3))
    assert found[0].evidence == "4.1% of the frame is blown to pure white, mostly at the top left."
    top = suggest({"exposure.shadows_clipped_pct": 12.0, "exposure.shadows_clipped_where": "top"})
    assert top[0].id == "lift-shadows" and top[0].region == pytest.approx((1 / 3, 0, 2 / 3, 1 / 3))


def test_facts_cite_the_measured_tilt():
    measurements = _measurements("camera", "clockwise")
    tilt = measurements["horizon.tilt_deg"]
    [fact] = [f for f in measured_facts(measurements) if "horizon.tilt_deg" in f.keys]
    assert fact.topic == "composition"
    assert f"{abs(tilt):.1f}° clockwise" in fact.sentence
    assert measured_facts({"horizon.tilt_deg": 3.2, "horizon.reference": "horizon"})[0] == Fact(
        "composition", "The horizon tilts 3.2° clockwise (measured on the horizon line).",
        ("horizon.tilt_deg", "horizon.reference"))


@pytest.mark.parametrize("name", ["chelsea", "coffee", "camera"])
def test_facts_rest_only_on_present_keys_in_topic_order(name):
    measurements = _measurements(name, "original")
    facts = measured_facts(measurements)
    assert facts and all(measurements.get(key) is not None for f in facts for key in f.keys)
    topics = [TOPICS.index(f.topic) for f in facts]
    assert topics == sorted(topics)
    assert not any(f.topic == "depth" for f in facts)
    if measurements["horizon.tilt_deg"] is None:
        assert not any("horizon.tilt_deg" in f.keys for f in facts)


def test_fact_sentences_carry_numbers_and_units():
    facts = measured_facts({
        "exposure.ev_vs_middle_grey": -1.3,
        "exposure.highlights_clipped_pct": 4.1,
        "exposure.highlights_clipped_where": "top",
        "noise.sigma": 6.2,
        "sharpness.subject_background_ratio": 1.02,
        "subject.centre_distance": 0.02,
        "subject.thirds_distance": 0.21,
        "subject.nearest_thirds_point": "upper-left",
        "subject.box": [0.3, 0.25, 0.7, 0.8],
    })
    sentences = [f.sentence for f in facts]
    assert sentences == [
        "Exposure is 1.3 EV below middle grey.",
        "4.1% of the frame is blown to pure white, mostly at the top.",
        "The subject sits near the frame centre (0.02 of the frame away); the nearest thirds "
        "point (upper-left) is 0.21 of the frame away.",
        "The background is as sharp as the subject (ratio 1.02).",
        "Noise is σ 6.2 levels, visibly noisy.",
    ]
    assert facts[2].region == (0.3, 0.25, 0.7, 0.8)
    assert facts[1].region == pytest.approx((1 / 3, 0, 2 / 3, 1 / 3))


def test_depth_fact_only_with_depth_stats():
    measurements = {"noise.sigma": 1.0}
    depth = {"mean": 0.41, "p90": 0.8, "near_share_pct": 23.0, "range_p5_p95": 0.62}
    with_depth = measured_facts(measurements, {"depth": depth, "blur": {"mean": 0.2}})
    assert [f.topic for f in with_depth] == ["noise", "depth"]
    assert "0.62" in with_depth[-1].sentence and "23.0%" in with_depth[-1].sentence
    assert all(key.startswith("depth.") for key in with_depth[-1].keys)
    assert measured_facts(measurements, {"depth": {}}) == measured_facts(measurements)
    assert [f.topic for f in measured_facts(measurements, None)] == ["noise"]


def test_facts_text_is_one_line_per_fact():
    facts = measured_facts(_measurements("chelsea", "original"))
    lines = facts_text(facts).splitlines()
    assert lines == [f"- {f.sentence}" for f in facts]
    assert measured_facts({}) == [] and facts_text([]) == ""
