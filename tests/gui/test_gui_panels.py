"""The score, measurements and critique panels, fed real core results offscreen."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QGuiApplication, QTextCursor

from critique_app.core.analysis.analyzer import analyze
from critique_app.core.critic.events import CritiqueEvent, collect_text
from critique_app.core.critic.request import CritiqueRequest
from critique_app.core.critic.service import stream_critique
from critique_app.core.measurements.spec import SPECS
from critique_app.core.scoring.distribution import ScoreDistribution
from critique_app.core.scoring.scorer import NO_SCORER_HINT
from critique_app.core.util.paths import resource_path
from critique_app.gui.photo.critique_panel import CritiquePanel
from critique_app.gui.photo.measurements_panel import NO_TILT, MeasurementsPanel
from critique_app.gui.photo.score_panel import ScorePanel
from tests.helpers.photo_edits import as_photo, rotate_and_crop
from tests.helpers.photos import PHOTOS, load_rgb

PHOTO = ScoreDistribution.from_probabilities(
    [0.005, 0.01, 0.03, 0.08, 0.17, 0.27, 0.24, 0.13, 0.05, 0.015])
SALIENCY = ScoreDistribution.from_probabilities(
    [0.0, 0.01, 0.02, 0.05, 0.12, 0.25, 0.3, 0.17, 0.06, 0.02])
BLUR = ScoreDistribution.from_probabilities(
    [0.02, 0.04, 0.08, 0.15, 0.25, 0.24, 0.13, 0.06, 0.02, 0.01])
VLM_RATING = {"model": "smolvlm-256m", "method": "zero-shot rating words (Q-Align style)",
              "levels": {"excellent": 0.1, "good": 0.5, "fair": 0.3, "poor": 0.07, "bad": 0.03},
              "mean": 6.62, "std": 1.81}


@pytest.fixture(scope="module")
def camera_analysis():
    return analyze(PHOTOS["camera"], depth=False)


@pytest.fixture(scope="module")
def cat_analysis():
    # the cat: its centred subject draws a suggestion with a region (the rocket sample, a
    # blue-hour scene, now has none: its dark, lamps and sharp pad are the scene, issue 19)
    return analyze(resource_path("samples", "chelsea.jpg"), depth=False)


@pytest.fixture  # per test: the stream opens the model store in the isolated home
def rule_events(cat_analysis):
    return list(stream_critique(cat_analysis, CritiqueRequest(use_model=False)))


# --- score panel -------------------------------------------------------------------------
def test_score_panel_shows_the_distribution_and_each_cue(qtbot):
    panel = ScorePanel()
    qtbot.addWidget(panel)
    panel.show_scores({"photo": PHOTO, "saliency": SALIENCY, "blur": BLUR}, percentile=82.4)

    assert panel.headline_text() == f"{PHOTO.mean:.1f} ± {PHOTO.std:.1f}"
    assert panel.bar_heights() == pytest.approx(list(PHOTO.probabilities))
    assert panel.mean_line.value() == pytest.approx(PHOTO.mean)
    assert panel.percentile.text() == "percentile 82 in this folder"
    assert panel.cues.values == {
        "photo": f"{PHOTO.mean:.1f} ± {PHOTO.std:.1f}",
        "saliency": f"{SALIENCY.mean:.1f} ± {SALIENCY.std:.1f}",
        "blur": f"{BLUR.mean:.1f} ± {BLUR.std:.1f}",
    }
    assert not panel.plot.isHidden() and not panel.cues.isHidden()


def test_score_panel_without_a_model_shows_no_bars(qtbot):
    panel = ScorePanel()
    qtbot.addWidget(panel)
    panel.show_scores({"photo": PHOTO}, percentile=None)
    assert panel.percentile.isHidden()
    assert panel.cues.isHidden()  # the photo alone: nothing to compare

    panel.show_missing(NO_SCORER_HINT)
    assert panel.bar_heights() == []
    assert panel.plot.isHidden()
    assert panel.headline_text() == ""
    assert "No score model" in panel.status.text()
    assert NO_SCORER_HINT[1:] in panel.status.text()  # the hint, first letter capitalised


def test_score_panel_labels_the_vlm_rating_as_zero_shot(qtbot):
    panel = ScorePanel()
    qtbot.addWidget(panel)
    panel.set_busy("Scoring…")
    assert panel.status.text() == "Scoring…"
    panel.show_vlm_rating(VLM_RATING)
    panel.show_missing(NO_SCORER_HINT)  # a VLM rating stands without a trained model

    text = panel.vlm.text()
    assert not panel.vlm.isHidden()
    assert "Zero-shot VLM rating: 6.6 ± 1.8" in text
    assert "smolvlm-256m" in text and "good 50%" in text
    panel.clear()
    assert panel.vlm.isHidden() and panel.bar_heights() == []


# --- measurements panel ------------------------------------------------------------------
def test_measurements_panel_reads_in_plain_words(qtbot, camera_analysis):
    panel = MeasurementsPanel()
    qtbot.addWidget(panel)
    measurements = dict(camera_analysis.measurements, **{"horizon.tilt_deg": -3.2})
    panel.show_analysis(measurements, camera_analysis.photo.describe())
    values = panel.values()

    clipped = measurements["exposure.highlights_clipped_pct"]
    assert values["exposure.highlights_clipped_pct"] == f"{clipped:.1f}% of frame"
    assert values["exposure.ev_vs_middle_grey"].endswith(" EV")
    assert "counter-clockwise" in values["horizon.tilt_deg"]
    assert "exposure.histogram" not in values
    assert not any(key.startswith("camera.") for key in values)  # a PNG has no EXIF
    assert values["photo.size"].startswith("512 × 512 px")

    text = panel.plain_text()
    for group in ("Exposure", "Contrast", "Colour", "Noise", "Sharpness", "Tilt", "Subject",
                  "Photo"):
        assert f"\n{group}\n" in f"\n{text}\n"
    row = panel.tree.topLevelItem(0).child(0)
    assert SPECS[row.data(0, Qt.ItemDataRole.UserRole)].description in row.toolTip(1)


def test_measurements_panel_tilt_words(qtbot):
    tilted = analyze(as_photo(rotate_and_crop(load_rgb("camera"), 3.0)), depth=False)
    panel = MeasurementsPanel()
    qtbot.addWidget(panel)
    panel.show_analysis(tilted.measurements, None)
    shown = panel.values()["horizon.tilt_deg"]
    assert shown.startswith("+") and shown.endswith("° clockwise")
    assert not any(key.startswith("photo.") for key in panel.values())

    cat = analyze(PHOTOS["chelsea"], depth=False)  # fur and whiskers: no straight lines
    panel.show_analysis(cat.measurements, cat.photo.describe())
    assert panel.values()["horizon.tilt_deg"] == NO_TILT
    assert "horizon.reference" not in panel.values()  # None values are left out


def test_measurements_panel_shows_the_scene_first_with_its_cues(qtbot):
    from critique_app.core.scene import recognise_scene

    rocket = analyze(PHOTOS["rocket"], depth=False)
    panel = MeasurementsPanel()
    qtbot.addWidget(panel)
    panel.show_analysis(rocket.measurements, rocket.photo.describe())
    panel.show_scene(recognise_scene(rocket, None))
    panel.show_scene(recognise_scene(rocket, None))  # a second scene replaces the first
    values = panel.values()
    assert values["scene.light"] == "blue hour"
    assert values["scene.blue-hour"].startswith("0.") and "point light sources" in \
        values["scene.blue-hour"]
    assert "not installed" in values["scene.labels"]  # no classifier in the test home
    titles = [panel.tree.topLevelItem(i).text(0) for i in range(panel.tree.topLevelItemCount())]
    assert titles[0] == "Scene" and titles.count("Scene") == 1 and "Exposure" in titles


def test_measurements_panel_camera_group_and_copy(qtbot, tmp_path):
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS R5"
    sub = exif.get_ifd(0x8769)
    sub[0x829A], sub[0x829D], sub[0x8827] = 1 / 250, 2.8, 400
    sub[0x920A], sub[0xA434], sub[0x9003] = 50.0, "RF 50mm F1.8 STM", "2024:05:01 14:03:22"
    path = tmp_path / "shot.jpg"
    Image.fromarray(load_rgb("rocket")).save(path, exif=exif)
    analysis = analyze(path, depth=False)

    panel = MeasurementsPanel()
    qtbot.addWidget(panel)
    panel.show_analysis(analysis.measurements, analysis.photo.describe())
    values = panel.values()
    assert values["camera.camera"] == "Canon EOS R5"
    assert values["camera.lens"] == "RF 50mm F1.8 STM"
    assert values["camera.focal_length"] == "50 mm"
    assert values["camera.aperture"] == "f/2.8"
    assert values["camera.shutter"] == "1/250 s"
    assert values["camera.iso"] == "400"
    assert values["camera.taken_at"] == "2024-05-01 14:03:22"

    camera = next(panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())
                  if panel.tree.topLevelItem(i).text(0) == "Camera")
    camera.child(0).setSelected(True)
    panel.copy_selection()
    assert QGuiApplication.clipboard().text() == "Camera\nCamera\tCanon EOS R5"
    panel.clear()
    assert panel.values() == {}


# --- critique panel ----------------------------------------------------------------------
def test_critique_panel_shows_the_rule_based_stream(qtbot, rule_events):
    panel = CritiquePanel()
    qtbot.addWidget(panel)
    panel.begin()
    assert panel.stop_button.isEnabled() and not panel.regenerate_button.isEnabled()
    for event in rule_events[:-1]:
        panel.handle_event(event)
    assert panel.is_running()
    panel.handle_event(rule_events[-1])
    assert rule_events[-1].kind == "done"
    assert not panel.stop_button.isEnabled() and panel.regenerate_button.isEnabled()

    text = panel.plain_text()
    for section, body in collect_text(rule_events).items():
        heading = next(e.text for e in rule_events if e.kind == "start" and e.section == section)
        assert f"{heading}\n{body}" in text
    block = panel.text.document().findBlock(text.index("Suggestions"))
    assert block.text() == "Suggestions"
    assert QTextCursor(block).charFormat().fontWeight() == QFont.Weight.Bold
    assert "rule-based critique only" in panel.notice.text()

    suggestions = [e.data for e in rule_events if e.kind == "suggestion"]
    assert suggestions and panel.suggestions.count() == len(suggestions)
    for row, data in enumerate(suggestions):
        item = panel.suggestions.item(row)
        assert item.text() == f"{data['rank']}. {data['action']}"
        assert data["evidence"] in item.toolTip()
        with qtbot.waitSignal(panel.suggestionSelected) as signal:
            panel.suggestions.setCurrentRow(row)
        assert signal.args == [tuple(data["region"]) if data["region"] else None]

    panel.copy_button.click()
    assert QGuiApplication.clipboard().text() == text


def test_critique_panel_appends_chunks_in_order(qtbot):
    panel = CritiquePanel()
    qtbot.addWidget(panel)
    panel.begin()
    chunks = [f"word{i} " + ("\n" if i % 17 == 16 else "") for i in range(200)]
    for chunk in chunks:
        panel.handle_event(CritiqueEvent("text", "impression", chunk))
    assert panel.plain_text() == "".join(chunks)


def test_critique_panel_sets_off_a_contradicted_statement(qtbot):
    panel = CritiquePanel()
    qtbot.addWidget(panel)
    panel.begin()
    marked = ("The horizon is level. [contradicts the measurements: the scene tilts 4.1° "
              "clockwise (measured on the verticals)] ")
    for chunk in ("A rocket at dusk. ", marked, "Lamps are lit."):
        panel.handle_event(CritiqueEvent("text", "description", chunk))
    text = panel.plain_text()
    assert text == "A rocket at dusk. " + marked + "Lamps are lit."
    document = panel.text.document()

    def format_at(index):
        cursor = QTextCursor(document)
        cursor.setPosition(index + 1)
        return cursor.charFormat()

    mark, body = format_at(text.index("[contradicts")), format_at(text.index("Lamps"))
    assert mark.foreground().color() != body.foreground().color()
    assert mark.fontItalic() and not body.fontItalic()
    assert not format_at(text.index("horizon")).fontItalic()


def test_critique_panel_model_events_errors_and_stop(qtbot):
    panel = CritiquePanel()
    qtbot.addWidget(panel)
    panel.begin()
    for event in (CritiqueEvent("notice", text="written by smolvlm-256m (vision, cpu)"),
                  CritiqueEvent("score", data=VLM_RATING),
                  CritiqueEvent("start", "emotion", "Emotion"),
                  CritiqueEvent("emotion", "emotion", data={
                      "category": "awe", "probabilities": {},
                      "vad": {"valence": 0.8, "arousal": 0.7, "dominance": 0.35}}),
                  CritiqueEvent("text", "emotion", "Awe. It evokes this because")):
        panel.handle_event(event)
    assert panel.notice.text() == "written by smolvlm-256m (vision, cpu)"
    text = panel.plain_text()
    assert "Zero-shot VLM rating by smolvlm-256m: 6.6 ± 1.8" in text
    assert "Emotion: awe · valence 0.80, arousal 0.70, dominance 0.35" in text
    assert text.endswith("\nAwe. It evokes this because")
    assert panel.suggestions.count() == 0

    with qtbot.waitSignal(panel.stopRequested):
        panel.stop_button.click()
    panel.handle_event(CritiqueEvent("cancelled"))
    assert panel.plain_text().endswith("because (stopped)")
    assert not panel.is_running() and not panel.stop_button.isEnabled()

    panel.begin()
    panel.handle_event(CritiqueEvent("text", "impression", "Half a sentence"))
    panel.show_error("the model ran out of memory")
    assert panel.plain_text() == "Half a sentence"
    assert not panel.error.isHidden() and panel.error.text() == "the model ran out of memory"
    assert panel.regenerate_button.isEnabled()
    with qtbot.waitSignal(panel.regenerateRequested):
        panel.regenerate_button.click()
    panel.begin()
    assert panel.error.isHidden() and panel.plain_text() == ""


def test_critique_panel_personas(qtbot):
    panel = CritiquePanel()
    qtbot.addWidget(panel)
    names = [panel.persona_combo.itemData(i) for i in range(panel.persona_combo.count())]
    assert names[:5] == ["critic", "introvert", "extrovert", "art-experienced", "novice"]
    assert panel.persona() == "critic"
    with qtbot.waitSignal(panel.personaChanged) as signal:
        panel.persona_combo.setCurrentIndex(names.index("novice"))
    assert signal.args == ["novice"]
    with qtbot.assertNotEmitted(panel.personaChanged):
        panel.set_persona("introvert")
    assert panel.persona() == "introvert"
