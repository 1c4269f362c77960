"""The Cull page: real photos, the real cull_folder, bridge and ratings controller, offscreen.

The shoot is built from packaged photos (tests/helpers/bursts.py): two bursts minutes apart
with one sharp frame each, a single, an exposure bracket and a broken file. A few tests give
the page a culling by hand instead (``hand_cull``), for what a real shoot here cannot show:
closed eyes, a run cancelled or failing.
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
from tests.helpers.bursts import Shoot, add_bracket, two_scenes_and_a_single

HAAR_NOTE = "face models not installed: OpenCV Haar cascades used (no eye openness)"
PHOTOS_IN_SHOOT = 14  # 5 + 4 burst frames, a single, a 3-frame bracket, a broken file


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Shoot:
    """Built once per module; each test culls its own copy (its sidecars stay its own)."""
    shoot = two_scenes_and_a_single(tmp_path_factory.mktemp("built") / "Match")
    shoot.wait(300)
    add_bracket(shoot, "flower")
    (shoot.folder / "IMG_0014.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 10)
    return shoot


@pytest.fixture
def shoot(built, tmp_path) -> Path:
    return Path(shutil.copytree(built.folder, tmp_path / "Match"))


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
    def make(cull=None) -> CullView:
        widget = CullView(bridge, thumbnail_bridge, ratings, cull=cull)
        widget.auto_start = False
        qtbot.addWidget(widget)
        widget.resize(1100, 800)
        return widget

    return make


def run(qtbot, view: CullView, folder: Path) -> CullView:
    view.set_folder(folder)
    assert view.folder_label.text() == f"{PHOTOS_IN_SHOOT} photos in {folder}"
    view.cull_button.click()
    assert view.is_running and view.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not view.is_running, timeout=120_000)
    return view


def names(strip) -> list[str]:
    return [tile.path.name for tile in strip.tiles]


def wait_for_ratings(qtbot, view: CullView) -> None:
    qtbot.waitUntil(lambda: not view.ratings.bridge.busy, timeout=10_000)


# --- the real culling -------------------------------------------------------------------


def test_the_groups_are_stacks_with_the_sharp_frame_picked(qtbot, view, shoot, built):
    page = run(qtbot, view(), shoot)
    assert [names(strip) for strip in page.strips] == built.groups
    burst, coffee, single, bracket = page.strips
    for strip in (burst, coffee):  # the sharp frame is the pick, marked
        picks = [tile for tile in strip.tiles if tile.is_pick]
        assert [built.roles[tile.path.name] for tile in picks] == ["sharp"]
        assert picks[0].pick_text() == "★ pick"
        assert strip.heading_text().startswith(f"Burst · {len(strip.tiles)} frames")
        assert all(tile.flag_texts() == ["blur"] for tile in strip.tiles if not tile.is_pick)
    assert single.heading_text().startswith("Single") and not single.tiles[0].is_pick
    assert bracket.heading_text().startswith("Exposure bracket · 3 frames · kept whole")
    assert not any(tile.flags for tile in bracket.tiles)
    assert page.summary_label.text().startswith(
        "4 groups (2 bursts, 1 single, 1 exposure bracket) · 3 picks · 7 frames flagged · "
        "1 unreadable")
    faces, *notes = page.faces_label.text().splitlines()  # the fallback, why, how to fix
    assert faces.startswith(f"faces: Haar cascades — {HAAR_NOTE}")
    assert faces.endswith("Tools ▸ Models… installs mediapipe-face")
    assert notes == page.result.notes  # e.g. scores left empty: no score model installed
    lines = page.errors_label.text().splitlines()
    assert lines[0] == "Could not read 1 photo:" and lines[1].startswith("IMG_0014.jpg")
    assert len(lines) == 2
    assert page.progress.format() == "cached 0, computed 13, failed 1"
    # The keys start on the first group's pick; the thumbnails arrive.
    assert page.current_strip() is burst and burst.is_current
    assert page.current_tile().is_pick
    qtbot.waitUntil(lambda: not page.thumbnails_loading, timeout=30_000)
    assert all(tile._image is not None for strip in page.strips for tile in strip.tiles)

    # Again: every photo from the results cache the Folder page uses.
    page.cull_button.click()
    qtbot.waitUntil(lambda: not page.is_running, timeout=30_000)
    assert page.result.cached == 13 and page.result.computed == 0
    assert [names(strip) for strip in page.strips] == built.groups


def test_tooltips_carry_the_reasons_and_the_groups_why(qtbot, view, shoot):
    page = run(qtbot, view(), shoot)
    for strip in page.strips:
        for tile in strip.tiles:
            tip = tile.toolTip()
            if len(strip.tiles) > 1:
                assert tip.startswith(f"{tile.path.name} · rank {tile.verdict.rank} of "
                                      f"{len(strip.tiles)}")
            assert all(reason in tip for reason in tile.verdict.reasons)
            assert f"group: {strip.row.group.why}" in tip
    blurred = next(tile for tile in page.strips[0].tiles if tile.flags)
    assert "subject blurred" in blurred.toolTip()
    assert "kept whole" in page.strips[3].heading.toolTip()


def test_keys_move_and_p_writes_a_pick_to_the_sidecar(qtbot, view, shoot):
    page = run(qtbot, view(), shoot)
    page.show()
    page.setFocus()
    burst = page.strips[0]
    pick = burst.tiles.index(page.current_tile())
    qtbot.keyClick(page, Qt.Key.Key_Right)
    other = burst.tiles[pick + 1]
    assert page.current_tile() is other
    qtbot.keyClick(page, Qt.Key.Key_P)  # the photographer overrides Critique's pick
    wait_for_ratings(qtbot, page)
    assert read_photo_rating(other.path).picked
    assert other.is_your_pick and other.pick_text() == "⚑ your pick"
    assert f"your pick: {other.path.name}" in burst.heading_text()
    assert not read_photo_rating(burst.tiles[pick].path).rated  # nothing else changed
    qtbot.keyClick(page, Qt.Key.Key_Left)
    qtbot.keyClick(page, Qt.Key.Key_Left)
    assert page.current_tile() is burst.tiles[pick - 1]
    qtbot.keyClick(page, Qt.Key.Key_X)
    wait_for_ratings(qtbot, page)
    assert read_photo_rating(burst.tiles[pick - 1].path).rejected

    qtbot.keyClick(page, Qt.Key.Key_Down)  # the next group, on its pick
    assert page.current_strip() is page.strips[1] and page.current_tile().is_pick
    qtbot.keyClick(page, Qt.Key.Key_J)
    qtbot.keyClick(page, Qt.Key.Key_J)
    assert page.current_strip() is page.strips[3]
    qtbot.keyClick(page, Qt.Key.Key_Down)  # the last group stays
    assert page.current_strip() is page.strips[3]
    qtbot.keyClick(page, Qt.Key.Key_K)
    qtbot.keyClick(page, Qt.Key.Key_Return)
    single = page.strips[2].tiles[0].path
    wait_for_ratings(qtbot, page)
    assert read_photo_rating(single).picked
    qtbot.keyClick(page, Qt.Key.Key_U)
    wait_for_ratings(qtbot, page)
    assert not read_photo_rating(single).rated

    with qtbot.waitSignal(page.openPhoto) as opened:
        qtbot.keyClick(page, Qt.Key.Key_Space)
    assert opened.args == [single]


def test_flagged_only_hides_groups_without_flags_and_dims_clean_frames(qtbot, view, shoot):
    page = run(qtbot, view(), shoot)
    page.select(2)  # the single: hidden by the filter, the keys move on
    page.flagged_only.setChecked(True)
    assert page.visible_strips() == page.strips[:2]  # the single and the bracket are clean
    assert page.current_strip() is page.strips[1]  # no flagged group after it: the one before
    for strip in page.visible_strips():
        assert [tile._dimmed for tile in strip.tiles] == [not tile.flags for tile in strip.tiles]
    qtbot.keyClick(page, Qt.Key.Key_Down)
    assert page.current_strip() in page.visible_strips()
    assert page.empty_label.isHidden()
    page.flagged_only.setChecked(False)
    assert page.visible_strips() == page.strips
    assert not any(tile._dimmed for strip in page.strips for tile in strip.tiles)
    assert page.empty_label.isHidden()


def test_the_photographers_own_rating_shows_on_the_frame(qtbot, view, shoot):
    rated = shoot / "IMG_0002.jpg"
    set_stars(rated, 3)
    page = run(qtbot, view(), shoot)
    tile = page.strips[0].tiles[1]
    assert tile.path == rated
    qtbot.waitUntil(lambda: tile.rating() is not None, timeout=10_000)
    assert tile.rating().stars == 3
    assert "your rating: ★★★" in tile.toolTip()


def test_a_double_click_opens_the_frame(qtbot, view, shoot):
    page = run(qtbot, view(), shoot)
    page.show()
    tile = page.strips[1].tiles[2]
    with qtbot.waitSignal(page.openPhoto) as opened:
        qtbot.mouseDClick(tile, Qt.MouseButton.LeftButton)
    assert opened.args == [tile.path]
    assert page.current_tile() is tile


def test_the_main_window_feeds_the_cull_tab_and_opens_its_frames(qtbot, shoot, tmp_path):
    from critique_app.core.app.settings import Settings
    from critique_app.gui.main_window import MainWindow

    main = MainWindow(Settings(auto_critique=False), settings_path=tmp_path / "settings.json")
    qtbot.addWidget(main)
    main.show()
    main.open_path(shoot)
    page = main.cull_view
    assert page.folder == shoot and page.result is None
    main.pages.setCurrentWidget(page)  # shown for the first time: it culls by itself
    qtbot.waitUntil(lambda: page.result is not None and not page.is_running, timeout=120_000)
    assert len(page.strips) == 4
    assert main.pages.tabText(main.pages.indexOf(page)) == "Cull"
    qtbot.keyClick(page, Qt.Key.Key_P)  # the photo page's rate keys sleep on this tab
    picked = page.current_tile().path
    qtbot.waitUntil(lambda: read_photo_rating(picked).picked, timeout=10_000)
    qtbot.waitUntil(lambda: getattr(main.photo_page.ratings.rating(picked), "picked", False),
                    timeout=10_000)  # one truth for every page
    qtbot.keyClick(page, Qt.Key.Key_Space)
    assert main.pages.currentWidget() is main.photo_page
    qtbot.waitUntil(lambda: main.photo_page.path == picked, timeout=10_000)
    main.close()


# --- cullings given by hand ---------------------------------------------------------------


def hand_result(folder: Path, *, cancelled: bool = False) -> CullResult:
    """A culling of real photos that a packaged photo cannot produce: closed eyes, eyes
    too small to tell, frames under and over the group's exposure."""
    paths = find_photos(folder)[:6]
    groups = [Group("burst", (0, 1, 2), "3 frames within 0.8 s, near-identical"),
              Group("burst", (3, 4, 5), "3 frames within 0.6 s, near-identical")]
    verdicts = [
        Verdict(0, 0, 2, False, ("eyes-closed",), ("eyes closed: openness 0.05 of the "
                                                   "person's widest 0.31",)),
        Verdict(1, 0, 1, True, (), ("eyes open, sharpest face",)),
        Verdict(2, 0, 3, False, ("eyes-unknown",), ("face 30 px wide: too small to tell",)),
        Verdict(3, 1, 2, False, ("underexposed",), ("2.0 EV under the group's median",)),
        Verdict(4, 1, 1, True, (), ("exposure at the group's median",)),
        Verdict(5, 1, 3, False, ("overexposed", "subject-blur"),
                ("2.0 EV over the group's median", "subject blurred")),
    ]
    photos = [CulledPhoto(path, facts={}, verdict=verdicts[i]) for i, path in enumerate(paths)]
    return CullResult(photos, groups, computed=6, cancelled=cancelled, face_method="mediapipe")


def hand_cull(folder: Path, *, recursive=False, jobs=2, cancel=None, progress=None):
    if progress:
        progress(6, 6, {"cached": 0, "computed": 6, "failed": 0})
    return hand_result(folder)


def test_a_shoot_without_flags_says_so_when_flagged_only(qtbot, view, shoot):
    def clean(folder, **_):
        result = hand_result(folder)
        for photo in result.photos:
            photo.verdict = Verdict(photo.verdict.index, photo.verdict.group, photo.verdict.rank,
                                    photo.verdict.best)
        return result

    page = run(qtbot, view(clean), shoot)
    assert page.summary_label.text().endswith("0 frames flagged")
    page.flagged_only.setChecked(True)
    assert page.visible_strips() == [] and page.current_tile() is None  # P does nothing
    assert not page.empty_label.isHidden()
    assert "No frame is flagged" in page.empty_label.text()
    page.flagged_only.setChecked(False)
    assert page.current_tile() is page.strips[0].tiles[1]  # back on the first group's pick


def test_every_flag_has_its_badge(qtbot, view, shoot):
    page = run(qtbot, view(hand_cull), shoot)
    first, second = page.strips
    assert [tile.flag_texts() for tile in first.tiles] == [["eyes closed"], [], ["eyes ?"]]
    assert [tile.flag_texts() for tile in second.tiles] == [["under"], [], ["over", "blur"]]
    assert "too small to tell" in first.tiles[2].toolTip()
    assert page.faces_label.text() == "faces: MediaPipe face and iris models"
    assert page.errors_label.isHidden()


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
    assert len(page.strips) == 2
    assert "cancelled" in page.summary_label.text()


def test_a_failed_run_says_why_in_one_line(qtbot, view, shoot):
    from critique_app.core.util.errors import CritiqueError

    def broken(folder, **_):
        raise CritiqueError("the results cache is locked")

    page = run(qtbot, view(broken), shoot)
    assert page.info_label.text() == "the results cache is locked"
    assert page.strips == []


def big_shoot(folder: Path, groups: int) -> CullResult:
    """``groups`` bursts of 5 links to one packaged photo, the 4th frame of each third group
    flagged: a 2,000-frame shoot's layout without decoding 2,000 photos."""
    folder.mkdir()
    source = Path(__file__).parents[2] / "resources" / "samples" / "chelsea.jpg"
    photos, made = [], []
    for g in range(groups):
        frames = tuple(range(5 * g, 5 * g + 5))
        made.append(Group("burst", frames, "5 frames within 1.2 s, near-identical"))
        for k, i in enumerate(frames):
            path = folder / f"IMG_{i:05d}.jpg"
            path.hardlink_to(source)
            flags = ("subject-blur",) if k == 3 and g % 3 == 0 else ()
            photos.append(CulledPhoto(path, facts={}, verdict=Verdict(
                i, g, k + 1, k == 0, flags, ("subject blurred",) if flags else ("sharp",))))
    return CullResult(photos, made, computed=len(photos), face_method="mediapipe")


def test_a_big_shoot_is_laid_out_a_few_groups_at_a_time_and_nothing_is_lost(
        qtbot, view, tmp_path):
    result = big_shoot(tmp_path / "Wedding", 120)
    page = view(lambda folder, **_: result)
    page.flagged_only.setChecked(True)
    page.set_folder(tmp_path / "Wedding")
    page.cull_button.click()
    qtbot.waitUntil(lambda: page.result is result, timeout=30_000)
    # The window answers at once: only the first groups exist yet.
    assert page.building and 0 < len(page.strips) < 120
    page._thumbs.cancel()  # the thumbnail worker stops: this test hands one in itself
    late = result.photos[-1].path  # a thumbnail that comes before its group is laid out
    page._thumbnail((late, "cannot be read: a test"))
    qtbot.waitUntil(lambda: not page.building, timeout=30_000)
    assert len(page.strips) == 120
    # Groups laid out later are filtered like the first ones: 40 have a flagged frame.
    assert len(page.visible_strips()) == 40 and page.empty_label.isHidden()
    assert all(strip.row.flagged for strip in page.visible_strips())
    assert "a test" in page.strips[-1].tiles[-1].toolTip()
    for _ in range(39):  # the keys walk into the groups laid out later
        qtbot.keyClick(page, Qt.Key.Key_J)
    assert page.current_strip() is page.visible_strips()[-1]
    page.flagged_only.setChecked(False)
    assert len(page.visible_strips()) == 120
