"""The Cull page: real photos, the real bridge and ratings controller, offscreen Qt.

The culling itself is given by hand here (``hand_cull``: groups and verdicts over real
photo paths) so the page is tested on its own; the page runs it through the bridge as it
runs the core's ``cull_folder``.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from critique_app.core.culling.verdicts import CulledPhoto, CullResult, Group, Verdict
from critique_app.core.library.finding import find_photos
from critique_app.core.library.ratings import read_photo_rating, set_stars
from critique_app.gui.bridge import Bridge
from critique_app.gui.cull.view import CullView
from critique_app.gui.rating.controls import RatingsController
from tests.helpers.photos import PHOTOS

HAAR_NOTE = "face models not installed: OpenCV Haar cascades used (no eye openness)"
BURST_WHY = "3 frames within 0.8 s, near-identical (hash distance <= 10)"
BRACKET_WHY = "3 frames at -2, 0, +2 EV"


@pytest.fixture
def shoot(tmp_path) -> Path:
    """Real photos named as a camera would: a burst of the cat, a bracket of the coffee,
    two singles, and a file that only pretends to be a JPEG."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    sources = ["chelsea", "chelsea", "chelsea", "coffee", "coffee", "coffee", "astronaut",
               "rocket"]
    for number, name in enumerate(sources, start=1):
        shutil.copy(PHOTOS[name], folder / f"IMG_{number:04d}{PHOTOS[name].suffix}")
    (folder / "IMG_0009.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 10)
    return folder


def hand_result(folder: Path, *, cancelled: bool = False) -> CullResult:
    """What cull_folder would say of ``shoot``: groups, ranks, flags and reasons."""
    paths = find_photos(folder)
    groups = [Group("burst", (0, 1, 2), BURST_WHY),
              Group("bracket", (3, 4, 5), BRACKET_WHY, keep_whole=True),
              Group("single", (6,), "one frame, 40 s from the next"),
              Group("single", (7,), "one frame")]
    verdicts = [
        Verdict(0, 0, 2, False, ("subject-blur",), ("subject sharpness 0.21, best 0.64",
                                                    "subject blurred: 0.21 of the group's best")),
        Verdict(1, 0, 1, True, (), ("sharpest subject of the group (0.64)",)),
        Verdict(2, 0, 3, False, ("eyes-closed",), ("eyes closed: openness 0.05 of the "
                                                   "person's widest 0.31",)),
        Verdict(3, 1, 1, True, (), ("kept whole: exposure bracket",)),
        Verdict(4, 1, 2, False, ("underexposed",), ("2.0 EV under the group's median",)),
        Verdict(5, 1, 3, False, ("overexposed",), ("2.0 EV over the group's median",)),
        Verdict(6, 2, 1, True, ("eyes-unknown",), ("face 30 px wide: too small to tell",)),
        Verdict(7, 3, 1, True, (), ("the only frame",)),
    ]
    photos = [CulledPhoto(path, facts={}, verdict=verdicts[i]) for i, path in enumerate(paths[:8])]
    photos.append(CulledPhoto(paths[8], error=f"{paths[8].name}: not a readable photo"))
    return CullResult(photos, groups, computed=8, failed=1, cancelled=cancelled,
                      face_method="haar", face_note=HAAR_NOTE)


def hand_cull(folder: Path, *, recursive=False, jobs=2, cancel=None, progress=None):
    total = len(find_photos(folder))
    if progress:
        progress(total, total, {"cached": 0, "computed": total - 1, "failed": 1})
    return hand_result(folder)


@pytest.fixture
def ratings(qtbot):
    bridge = Bridge(threads=1)
    yield RatingsController(bridge)
    assert bridge.shutdown(30_000)


@pytest.fixture
def thumbnail_bridge(qtbot):
    bridge = Bridge(threads=1)
    yield bridge
    assert bridge.shutdown(30_000)


@pytest.fixture
def view(qtbot, bridge, thumbnail_bridge, ratings):
    def make(cull=hand_cull) -> CullView:
        widget = CullView(bridge, thumbnail_bridge, ratings, cull=cull)
        widget.auto_start = False
        qtbot.addWidget(widget)
        widget.resize(1100, 800)
        return widget

    return make


def run(qtbot, view: CullView, folder: Path) -> CullView:
    view.set_folder(folder)
    assert view.folder_label.text() == f"9 photos in {folder}"
    view.cull_button.click()
    qtbot.waitUntil(lambda: not view.is_running, timeout=60_000)
    return view


def wait_for_ratings(qtbot, view: CullView) -> None:
    qtbot.waitUntil(lambda: not view.ratings.bridge.busy, timeout=10_000)


def test_the_groups_are_stacks_with_the_pick_marked(qtbot, view, shoot):
    page = run(qtbot, view(), shoot)
    assert len(page.strips) == 4
    burst, bracket, astronaut, rocket = page.strips
    assert rocket.tiles[0].flag_texts() == [] and not rocket.tiles[0].is_pick  # no choice made
    assert [tile.path.name for tile in burst.tiles] == ["IMG_0001.png", "IMG_0002.png",
                                                         "IMG_0003.png"]
    assert [tile.is_pick for tile in burst.tiles] == [False, True, False]
    assert burst.tiles[1].pick_text() == "★ pick"
    assert "Burst · 3 frames" in burst.heading_text() and BURST_WHY in burst.heading_text()
    assert "kept whole" in bracket.heading_text() and "none is rejected" in bracket.heading_text()
    assert burst.tiles[0].flag_texts() == ["blur"] and burst.tiles[2].flag_texts() == [
        "eyes closed"]
    assert bracket.tiles[1].flag_texts() == ["under"] and bracket.tiles[2].flag_texts() == ["over"]
    assert astronaut.tiles[0].flag_texts() == ["eyes ?"]
    # The summary, the face finder and its reason, the unreadable file in one line.
    assert page.summary_label.text().startswith("4 groups (2 singles, 1 burst, "
                                                "1 exposure bracket) · 2 picks · "
                                                "5 frames flagged")
    assert page.faces_label.text() == f"faces: Haar cascades ({HAAR_NOTE})"
    assert page.errors_label.isVisibleTo(page)
    assert page.errors_label.text().splitlines() == ["Could not read 1 photo:",
                                                     "IMG_0009.jpg: not a readable photo"]
    assert page.cull_button.text() == "Cull again"
    # The keys start on the first group's pick; the thumbnails arrive.
    assert page.current_tile() is burst.tiles[1] and burst.is_current
    qtbot.waitUntil(lambda: all(tile._image is not None for strip in page.strips
                                for tile in strip.tiles), timeout=30_000)


def test_tooltips_carry_the_reasons_and_the_groups_why(qtbot, view, shoot):
    page = run(qtbot, view(), shoot)
    tip = page.strips[0].tiles[0].toolTip()
    assert "IMG_0001.png" in tip and "rank 2" in tip
    assert "subject blurred: 0.21 of the group's best" in tip
    assert f"group: {BURST_WHY}" in tip
    assert "Critique's pick" in page.strips[0].tiles[1].toolTip()
    assert "too small to tell" in page.strips[2].tiles[0].toolTip()


def test_keys_move_and_p_writes_a_pick_to_the_sidecar(qtbot, view, shoot):
    page = run(qtbot, view(), shoot)
    page.show()
    page.setFocus()
    qtbot.keyClick(page, Qt.Key.Key_Left)  # from the pick (frame 2) to frame 1
    assert page.current_tile() is page.strips[0].tiles[0]
    qtbot.keyClick(page, Qt.Key.Key_P)
    wait_for_ratings(qtbot, page)
    first = page.strips[0].tiles[0]
    assert read_photo_rating(first.path).picked
    assert first.is_your_pick and first.pick_text() == "⚑ your pick"
    assert "your pick: IMG_0001.png" in page.strips[0].heading_text()

    qtbot.keyClick(page, Qt.Key.Key_Down)  # the bracket, on its pick
    assert page.current_strip() is page.strips[1]
    assert page.current_tile() is page.strips[1].tiles[0]
    qtbot.keyClick(page, Qt.Key.Key_J)
    qtbot.keyClick(page, Qt.Key.Key_J)
    assert page.current_strip() is page.strips[3]
    qtbot.keyClick(page, Qt.Key.Key_Down)  # the last group stays
    assert page.current_strip() is page.strips[3]
    qtbot.keyClick(page, Qt.Key.Key_X)
    wait_for_ratings(qtbot, page)
    assert read_photo_rating(page.strips[3].tiles[0].path).rejected
    qtbot.keyClick(page, Qt.Key.Key_K)
    qtbot.keyClick(page, Qt.Key.Key_Return)
    wait_for_ratings(qtbot, page)
    assert read_photo_rating(page.strips[2].tiles[0].path).picked
    qtbot.keyClick(page, Qt.Key.Key_U)
    wait_for_ratings(qtbot, page)
    assert not read_photo_rating(page.strips[2].tiles[0].path).rated

    with qtbot.waitSignal(page.openPhoto) as opened:
        qtbot.keyClick(page, Qt.Key.Key_Space)
    assert opened.args == [page.strips[2].tiles[0].path]


def test_the_photographers_own_rating_shows_on_the_frame(qtbot, view, shoot, ratings):
    rated = find_photos(shoot)[2]
    set_stars(rated, 3)
    page = run(qtbot, view(), shoot)
    tile = page.strips[0].tiles[2]
    qtbot.waitUntil(lambda: tile.rating() is not None, timeout=10_000)
    assert tile.rating().stars == 3
    assert "your rating: ★★★" in tile.toolTip()


def test_flagged_only_hides_groups_without_flags_and_dims_clean_frames(qtbot, view, shoot):
    page = run(qtbot, view(), shoot)
    page.flagged_only.setChecked(True)
    shown = page.visible_strips()
    assert shown == page.strips[:3]  # the rocket's group has no flagged frame
    assert [tile._dimmed for tile in page.strips[0].tiles] == [False, True, False]
    page.select(3)
    page.flagged_only.setChecked(True)
    page.flagged_only.setChecked(False)
    assert page.visible_strips() == page.strips
    assert not any(tile._dimmed for strip in page.strips for tile in strip.tiles)
    page.select(3)
    page.flagged_only.setChecked(True)  # the current group is hidden: the keys move on
    assert page.current_strip() is not None and not page.current_strip().isHidden()


def test_a_double_click_opens_the_frame(qtbot, view, shoot):
    page = run(qtbot, view(), shoot)
    page.show()
    tile = page.strips[1].tiles[2]
    with qtbot.waitSignal(page.openPhoto) as opened:
        qtbot.mouseDClick(tile, Qt.MouseButton.LeftButton)
    assert opened.args == [tile.path]
    assert page.current_tile() is tile


def test_cancel_shows_what_was_done(qtbot, view, shoot):
    started = threading.Event()

    def slow_cull(folder, *, cancel, **_):
        started.set()
        cancel.wait(30)
        return hand_result(folder, cancelled=True)

    page = view(slow_cull)
    page.set_folder(shoot)
    page.cull()
    assert page.is_running and page.cancel_button.isEnabled()
    assert started.wait(10)
    page.cancel_button.click()
    qtbot.waitUntil(lambda: not page.is_running, timeout=10_000)
    assert len(page.strips) == 4
    assert "cancelled" in page.summary_label.text()


def test_a_failed_run_says_why_in_one_line(qtbot, view, shoot):
    from critique_app.core.util.errors import CritiqueError

    def broken(folder, **_):
        raise CritiqueError("the results cache is locked")

    page = run(qtbot, view(broken), shoot)
    assert page.info_label.text() == "the results cache is locked"
    assert page.strips == []


def test_the_main_window_feeds_the_cull_tab_and_opens_its_frames(qtbot, shoot, tmp_path):
    from critique_app.core.app.settings import Settings
    from critique_app.gui.main_window import MainWindow

    main = MainWindow(Settings(auto_critique=False), settings_path=tmp_path / "settings.json")
    qtbot.addWidget(main)
    main.cull_view._cull = hand_cull
    main.show()
    main.open_path(shoot)
    page = main.cull_view
    assert page.folder == shoot and page.result is None
    main.pages.setCurrentWidget(page)  # shown for the first time: it culls by itself
    qtbot.waitUntil(lambda: len(page.strips) == 4 and not page.is_running, timeout=30_000)
    assert main.pages.tabText(main.pages.indexOf(page)) == "Cull"
    qtbot.keyClick(page, Qt.Key.Key_P)  # the photo page's rate keys sleep on this tab
    qtbot.waitUntil(lambda: read_photo_rating(page.current_tile().path).picked, timeout=10_000)
    picked = page.current_tile().path
    assert main.photo_page.ratings.rating(picked).picked  # one truth for every page
    qtbot.keyClick(page, Qt.Key.Key_Space)
    assert main.pages.currentWidget() is main.photo_page
    qtbot.waitUntil(lambda: main.photo_page.path == picked, timeout=10_000)
    main.close()
