"""The main window driven like a user would, offscreen, with tiny models."""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer

from critique_app.core.app.settings import Settings, load_settings
from critique_app.core.store.store import ModelStore
from critique_app.gui.main_window import MainWindow
from tests.helpers.depth_models import save_tiny_depth_model
from tests.helpers.photos import PHOTOS, REPO_ROOT
from tests.helpers.score_models import save_tiny_scorer
from tests.helpers.tiny_lms import save_tiny_causal_lm

SAMPLE = REPO_ROOT / "resources" / "samples" / "chelsea.jpg"
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.fixture
def window(qtbot, tmp_path):
    def make(**settings) -> MainWindow:
        made = MainWindow(Settings(**settings), settings_path=tmp_path / "settings.json")
        qtbot.addWidget(made)
        made.resize(1280, 820)
        made.show()
        return made

    return make


def wait_for_critique(qtbot, page, timeout=20_000) -> None:
    qtbot.waitUntil(lambda: "Suggestions" in page.critique.plain_text()
                    and not page.critique.is_running(), timeout=timeout)


def test_open_a_photo_overlays_measurements_and_rule_critique(qtbot, window):
    main = window()
    page = main.photo_page
    main.open_path(SAMPLE)
    qtbot.waitUntil(lambda: page.analysis is not None, timeout=10_000)
    assert page.viewer.has_photo
    assert page.overlays.is_available("saliency") and page.overlays.is_available("blur")
    assert not page.overlays.is_available("depth")
    page.overlays.set_current("saliency")
    assert page.overlays.current() == "saliency"
    assert "Exposure" in page.measurements.plain_text()
    qtbot.waitUntil(lambda: "No score model" in page.score_panel.status.text(),
                    timeout=10_000)
    qtbot.waitUntil(lambda: page.measurements.plain_text().startswith("Scene\n"),
                    timeout=10_000)  # the scene comes after the scores, first in the tab
    wait_for_critique(qtbot, page)
    text = page.critique.plain_text()
    assert "Aesthetic evaluation" in text and "Composition:" in text
    assert str(SAMPLE) in main.settings.recent


@pytest.mark.slow
def test_the_histogram_shows_the_installed_score_model(qtbot, window, tmp_path):
    ModelStore().import_dir(save_tiny_scorer(tmp_path / "tiny-score", steps=30),
                            report=lambda _: None)
    main = window(auto_critique=False)
    page = main.photo_page
    main.open_path(SAMPLE)
    qtbot.waitUntil(lambda: bool(page.scores), timeout=20_000)
    distribution = page.scores["photo"]
    assert page.score_panel.bar_heights() == pytest.approx(
        list(distribution.probabilities), abs=1e-6)
    assert f"{distribution.mean:.1f}" in page.score_panel.headline_text()


@pytest.mark.slow
def test_scoring_the_folder_shows_each_photos_percentile_in_it(qtbot, window, tmp_path):
    ModelStore().import_dir(save_tiny_scorer(tmp_path / "tiny-score", steps=30),
                            report=lambda _: None)
    folder = tmp_path / "shoot"
    folder.mkdir()
    for name in ("chelsea", "coffee", "astronaut"):
        shutil.copy(PHOTOS[name], folder / f"{name}.png")
    main = window(auto_critique=False)
    page = main.photo_page
    main.open_path(folder)
    qtbot.waitUntil(lambda: bool(page.scores), timeout=20_000)
    assert page.score_panel.percentile.isHidden()  # not scored as a folder yet
    main.score_folder()
    qtbot.waitUntil(lambda: not main.folder_view.is_running and len(main.folder_view.rows()) == 3,
                    timeout=30_000)
    rows = {Path(row["path"]).name: row for row in main.folder_view.rows()}
    shown = rows[page.path.name]["score_percentile"]
    assert page.score_panel.percentile.text() == f"percentile {round(shown)} in this folder"
    first = page.path
    page.filmstrip.step(1)
    qtbot.waitUntil(lambda: page.path != first and bool(page.scores)
                    and not page.score_panel.percentile.isHidden(), timeout=20_000)
    expected = round(rows[page.path.name]["score_percentile"])
    assert page.score_panel.percentile.text() == f"percentile {expected} in this folder"


@pytest.mark.slow
def test_a_language_model_critique_streams_and_stops(qtbot, window, tmp_path):
    model = save_tiny_causal_lm(tmp_path / "talker", never_stop=True, hidden_size=128,
                                intermediate_size=256, num_hidden_layers=4)
    main = window(critic_model=str(model))
    page = main.photo_page
    main.open_path(SAMPLE)
    qtbot.waitUntil(lambda: "Description" in page.critique.plain_text(), timeout=20_000)
    qtbot.waitUntil(lambda: len(page.critique.plain_text()) > 80, timeout=20_000)
    assert page.critique.is_running()
    page.critique.stopRequested.emit()
    qtbot.waitUntil(lambda: not page.critique.is_running(), timeout=5_000)
    assert "(stopped)" in page.critique.plain_text()
    qtbot.waitUntil(lambda: not page._critique_task.running, timeout=5_000)
    assert not [t for t in threading.enumerate() if t.name == "critique-generate"]


@pytest.mark.slow
def test_the_ui_never_stalls_while_a_photo_is_analysed_and_a_critique_streams(
        qtbot, window, tmp_path):
    model = save_tiny_causal_lm(tmp_path / "talker", never_stop=True, hidden_size=128,
                                intermediate_size=256, num_hidden_layers=4)
    main = window(critic_model=str(model))
    page = main.photo_page
    qtbot.wait(200)  # let the window settle before measuring
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    main.open_path(SAMPLE)
    qtbot.waitUntil(lambda: len(page.critique.plain_text()) > 200, timeout=30_000)
    timer.stop()
    page.stop_critique()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(gaps) < 0.1, f"the UI thread stalled for {max(gaps) * 1000:.0f} ms"


def test_a_bad_file_shows_a_message_not_a_crash(qtbot, window, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    main = window()
    main.open_path(bad)
    qtbot.waitUntil(lambda: "JPG" in main.statusBar().currentMessage()
                    or "image" in main.statusBar().currentMessage(), timeout=5_000)
    assert not main.photo_page.viewer.has_photo
    assert main.photo_page.viewer.message


def test_a_folder_fills_the_filmstrip_and_arrow_keys_move(qtbot, window, tmp_path):
    for name in ("chelsea", "coffee", "astronaut"):
        shutil.copy(PHOTOS[name], tmp_path / f"{name}.png")
    main = window(auto_critique=False)
    page = main.photo_page
    main.open_path(tmp_path)
    assert page.filmstrip.isVisible()
    assert len(page.filmstrip.paths()) == 3
    qtbot.waitUntil(lambda: page.path is not None, timeout=5_000)
    first = page.path
    page.filmstrip.step(1)
    qtbot.waitUntil(lambda: page.path != first, timeout=5_000)
    main.score_folder()
    qtbot.waitUntil(lambda: not main.folder_view.is_running and len(main.folder_view.rows()) == 3,
                    timeout=30_000)


@pytest.mark.slow
def test_quitting_mid_critique_stops_every_thread(qtbot, window, tmp_path):
    model = save_tiny_causal_lm(tmp_path / "talker", never_stop=True, hidden_size=128,
                                intermediate_size=256, num_hidden_layers=4)
    main = window(critic_model=str(model))
    main.open_path(SAMPLE)
    qtbot.waitUntil(lambda: main.photo_page.critique.is_running()
                    and len(main.photo_page.critique.plain_text()) > 40, timeout=20_000)
    main.close()
    assert not main.bridge.busy or main.bridge.pool.activeThreadCount() == 0
    assert main.bridge.pool.activeThreadCount() == 0
    assert not [t for t in threading.enumerate() if t.name == "critique-generate"]
    assert Path(main.settings_path).is_file()


def drop_urls(widget, paths) -> None:
    """Drag files over the widget and drop them, as a file manager would."""
    from PySide6.QtCore import QMimeData, QPoint, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    action = Qt.DropAction.CopyAction
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(50, 50), action, mime, buttons, modifiers)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(50, 50), action, mime, buttons, modifiers)
    QApplication.sendEvent(widget, drop)
    assert drop.isAccepted()


def test_dropping_a_photo_or_a_folder_opens_it(qtbot, window, tmp_path):
    main = window(auto_critique=False)
    drop_urls(main, [SAMPLE])
    qtbot.waitUntil(lambda: main.photo_page.analysis is not None, timeout=10_000)
    assert main.photo_page.path == SAMPLE
    for name in ("coffee", "astronaut"):
        shutil.copy(PHOTOS[name], tmp_path / f"{name}.png")
    drop_urls(main, [tmp_path])
    assert main.folder == tmp_path
    assert len(main.photo_page.filmstrip.paths()) == 2


@pytest.mark.slow
def test_new_settings_take_effect_on_the_open_photo(qtbot, window, tmp_path):
    model = save_tiny_causal_lm(tmp_path / "talker", never_stop=True, hidden_size=64,
                                intermediate_size=128, num_hidden_layers=2)
    main = window(critic_model=str(model), default_persona="novice")
    page = main.photo_page
    assert page.critique.persona() == "novice"
    main.open_path(SAMPLE)
    qtbot.waitUntil(lambda: "Description" in page.critique.plain_text(), timeout=20_000)
    ModelStore().import_dir(save_tiny_scorer(tmp_path / "tiny-score", steps=20),
                            report=lambda _: None)
    new = Settings(**{**main.settings.__dict__, "use_language_model": False,
                      "default_persona": "introvert"})
    main.apply_settings(new)
    assert page.critique.persona() == "introvert"
    wait_for_critique(qtbot, page)  # the never-stopping model is gone: the rules end it
    text = page.critique.plain_text()
    # the rule engine's critique, in the introvert's voice
    assert text.startswith("Description") and "not from seeing the photo" in text
    assert "frame, with nothing loud" in text or "frame; its light and colour" in text
    assert "photo" in page.scores  # the newly installed scorer is used at once
    assert load_settings(tmp_path / "settings.json").default_persona == "introvert"


def record_critiques(monkeypatch, page) -> list[tuple[object, set[str], dict]]:
    """What each critique is given: (the Analysis, its modality names then, the scores)."""
    given = []
    stream = page.services.stream_critique

    def recording(analysis, request, cancel, *, scores):
        given.append((analysis, set(analysis.maps), dict(scores)))
        return stream(analysis, request, cancel, scores=scores)

    monkeypatch.setattr(page.services, "stream_critique", recording)
    return given


@pytest.mark.slow
def test_a_depth_score_is_shown_when_depth_arrives_and_the_critique_cites_it(
        qtbot, window, tmp_path, monkeypatch):
    store = ModelStore()
    store.import_dir(save_tiny_scorer(tmp_path / "photo-score", steps=10), report=lambda _: None)
    store.import_dir(save_tiny_scorer(tmp_path / "depth-score", name="tiny-depth-score",
                                      modality="depth", steps=5), report=lambda _: None)
    monkeypatch.setenv("CRITIQUE_DEPTH_MODEL", str(save_tiny_depth_model(tmp_path / "depth")))
    main = window()
    page = main.photo_page
    given = record_critiques(monkeypatch, page)
    main.open_path(SAMPLE)
    wait_for_critique(qtbot, page, timeout=40_000)
    assert page.overlays.is_available("depth")
    assert set(page.scores) == {"photo", "depth"}
    depth = page.scores["depth"]
    assert page.score_panel.cues.values["depth"] == f"{depth.mean:.1f} ± {depth.std:.1f}"
    # one critique, started once depth and its score were known, grounded on both
    assert len(given) == 1
    analysis, names, scores = given[0]
    assert analysis.maps["depth"].available and "depth" in names
    assert scores["depth"] == depth


@pytest.mark.slow
def test_a_critique_keeps_its_own_analysis_while_depth_arrives(qtbot, window, tmp_path,
                                                               monkeypatch):
    """A critique started before depth comes (the user asks at once) reads an Analysis
    that the UI thread never changes under it; the page moves on to a new one."""
    from critique_app.core.analysis import photo_steps

    monkeypatch.setenv("CRITIQUE_DEPTH_MODEL", str(save_tiny_depth_model(tmp_path / "depth")))
    gate = threading.Event()
    real_depth = photo_steps.estimate_depth

    def slow_depth(*args):
        gate.wait(30)
        return real_depth(*args)

    monkeypatch.setattr(photo_steps, "estimate_depth", slow_depth)
    main = window(auto_critique=False)
    page = main.photo_page
    given = record_critiques(monkeypatch, page)
    try:
        main.open_path(SAMPLE)
        qtbot.waitUntil(lambda: page.analysis is not None, timeout=10_000)
        page.start_critique()
        wait_for_critique(qtbot, page)
    finally:
        gate.set()
    qtbot.waitUntil(lambda: page.overlays.is_available("depth"), timeout=20_000)
    analysis, names, _ = given[0]
    assert names == {"saliency", "blur"}
    assert set(analysis.maps) == names  # not changed after the critique started
    assert page.analysis is not analysis and page.analysis.maps["depth"].available
