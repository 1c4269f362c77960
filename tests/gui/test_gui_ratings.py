"""Rating photos in the main window: keys, the rating bar, the filmstrip, the sidecars,
and the training reader reading the folder as a personal-taste dataset."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from critique_app.core.app.settings import Settings
from critique_app.core.library.ratings import PhotoRating, read_photo_rating
from critique_app.core.library.xmp import read_pick_label, read_rating, write_rating
from critique_app.gui.main_window import MainWindow
from critique_app.gui.rating import controls as gui_ratings
from tests.helpers.photos import PHOTOS, SHOOT, copy_shoot
from train.data.formats import load_dataset

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
NAMES = SHOOT


@pytest.fixture
def shoot(tmp_path) -> Path:
    return copy_shoot(tmp_path / "shoot", NAMES)


@pytest.fixture
def main(qtbot, tmp_path):
    window = MainWindow(Settings(auto_critique=False), settings_path=tmp_path / "s.json")
    qtbot.addWidget(window)
    window.resize(1280, 820)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    return window


def open_folder(qtbot, main, folder: Path) -> list[Path]:
    page = main.photo_page
    main.open_path(folder)
    qtbot.waitUntil(lambda: not page.ratings.loading, timeout=5000)
    page.filmstrip.setFocus()
    return page.filmstrip.paths()


def sidecar(photo: Path) -> Path:
    return photo.with_name(photo.name + ".xmp")


def status(main) -> str:
    return main.statusBar().currentMessage()


def wait_saved(qtbot, main) -> None:
    qtbot.waitUntil(lambda: not main.rating_bridge.busy, timeout=5000)


def test_keys_rate_photos_and_the_folder_is_a_personal_taste_dataset(qtbot, main, shoot):
    page = main.photo_page
    photos = open_folder(qtbot, main, shoot)
    assert [p.name for p in photos] == ["astronaut.png", "chelsea.png", "coffee.png",
                                        "rocket.jpg"]
    first = photos[0]
    assert page.path == first and page.rating_bar.isEnabled()
    assert page.rating_bar.stars_shown() == 0
    assert page.rating_bar.count.text() == "0 of 4 photos rated"
    qtbot.waitUntil(lambda: page.analysis is not None, timeout=10_000)  # its status line first

    with qtbot.waitSignal(main.ratingsChanged, timeout=5000) as changed:
        qtbot.keyClick(page.filmstrip, Qt.Key.Key_4)
        assert page.rating_bar.stars_shown() == 4  # shown at once, saved after
    assert changed.args == [shoot, 1]
    assert read_rating(sidecar(first)) == 4
    assert page.filmstrip.badge(first) == "★★★★"
    assert status(main).startswith(f"{first.name}: ★★★★ saved to {first.name}.xmp")
    assert ("1 of 4 photos rated — Tools ▸ Fine-tune… ▸ Personal taste to learn from them"
            in status(main))
    assert main.rating_counts() == (1, 4)

    qtbot.keyClick(page.filmstrip, Qt.Key.Key_Right)  # next photo
    assert page.path == photos[1] and page.rating_bar.stars_shown() == 0
    qtbot.keyClick(page.filmstrip, Qt.Key.Key_2)
    qtbot.keyClick(page.filmstrip, Qt.Key.Key_P)  # a pick keeps the stars
    wait_saved(qtbot, main)
    assert read_rating(sidecar(photos[1])) == 2 and read_pick_label(sidecar(photos[1])) == 3
    assert page.filmstrip.badge(photos[1]) == "★★ ⚑"
    assert page.rating_bar.pick.isChecked() and not page.rating_bar.reject.isChecked()

    qtbot.keyClick(page.filmstrip, Qt.Key.Key_Right)
    qtbot.keyClick(page.filmstrip, Qt.Key.Key_X)  # reject
    qtbot.keyClick(page.filmstrip, Qt.Key.Key_Right)
    qtbot.keyClick(page.filmstrip, Qt.Key.Key_P)  # picked, no stars
    qtbot.keyClick(page.filmstrip, Qt.Key.Key_U)  # changed my mind
    qtbot.keyClick(page.filmstrip, Qt.Key.Key_P)  # ...and back
    wait_saved(qtbot, main)
    assert read_rating(sidecar(photos[2])) == -1
    assert page.filmstrip.badge(photos[2]) == "✕" and page.filmstrip.badge(photos[3]) == "⚑"
    assert main.rating_counts() == (4, 4)
    assert "4 of 4 photos rated" in page.rating_bar.count.text()

    # Back to the rejected one and the first: the bar shows what is stored.
    qtbot.keyClick(page.filmstrip, Qt.Key.Key_Left)
    assert page.path == photos[2]
    assert page.rating_bar.reject.isChecked() and page.rating_bar.stars_shown() == 0
    page.filmstrip.setCurrentRow(0)
    assert page.path == first and page.rating_bar.stars_shown() == 4
    qtbot.keyClick(page.filmstrip, Qt.Key.Key_0)  # clear: no longer rated
    wait_saved(qtbot, main)
    assert read_rating(sidecar(first)) == 0 and page.filmstrip.badge(first) == ""
    qtbot.keyClick(page.filmstrip, Qt.Key.Key_5)
    wait_saved(qtbot, main)

    dataset = load_dataset(shoot)
    assert (dataset.format, dataset.kind, dataset.errors, dataset.unrated) == (
        "xmp", "score", [], 0)
    assert {row.image.name: row.rating for row in dataset.rows} == {
        photos[0].name: "5 stars", photos[1].name: "2 stars", photos[2].name: "reject",
        photos[3].name: "pick"}


def test_the_rating_bar_is_clickable(qtbot, main, shoot):
    page = main.photo_page
    photo = open_folder(qtbot, main, shoot)[0]
    bar = page.rating_bar
    qtbot.mouseClick(bar.stars[2], Qt.MouseButton.LeftButton)
    wait_saved(qtbot, main)
    assert read_photo_rating(photo) == PhotoRating(stars=3) and bar.stars_shown() == 3
    qtbot.mouseClick(bar.stars[2], Qt.MouseButton.LeftButton)  # the same star again: clear
    wait_saved(qtbot, main)
    assert read_photo_rating(photo) == PhotoRating() and bar.stars_shown() == 0
    qtbot.mouseClick(bar.pick, Qt.MouseButton.LeftButton)
    wait_saved(qtbot, main)
    assert read_photo_rating(photo) == PhotoRating(picked=True) and bar.pick.isChecked()
    qtbot.mouseClick(bar.reject, Qt.MouseButton.LeftButton)  # replaces the pick
    wait_saved(qtbot, main)
    assert read_photo_rating(photo) == PhotoRating(rejected=True)
    assert bar.reject.isChecked() and not bar.pick.isChecked()
    qtbot.mouseClick(bar.reject, Qt.MouseButton.LeftButton)  # unreject
    wait_saved(qtbot, main)
    assert read_photo_rating(photo) == PhotoRating() and not bar.reject.isChecked()


def test_menu_lists_the_keys_and_they_sleep_on_the_folder_tab(qtbot, main, shoot):
    keys = {a.text(): a.shortcut().toString() for a in main.rate_actions}
    assert keys["★★★★☆  4 Stars"] == "4" and keys["☆☆☆☆☆  Clear Stars"] == "0"
    assert [keys[k] for k in ("⚑  Pick", "✕  Reject", "Unpick / Unreject")] == ["P", "X", "U"]
    others = {a.shortcut().toString() for a in main.findChildren(type(main.rate_actions[0]))
              if a not in main.rate_actions and not a.shortcut().isEmpty()}
    assert not others & set(keys.values())  # Ctrl+0 / Ctrl+1 stay the zoom keys
    assert not any(a.isEnabled() for a in main.rate_actions)  # no photo yet

    photo = open_folder(qtbot, main, shoot)[0]
    assert all(a.isEnabled() for a in main.rate_actions)
    main.pages.setCurrentWidget(main.folder_view)
    assert not any(a.isEnabled() for a in main.rate_actions)
    qtbot.keyClick(main.folder_view, Qt.Key.Key_3)
    main.pages.setCurrentWidget(main.photo_page)
    qtbot.keyClick(main.photo_page.filmstrip, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    wait_saved(qtbot, main)
    assert not sidecar(photo).exists()
    next(a for a in main.rate_actions if a.shortcut().toString() == "1").trigger()
    wait_saved(qtbot, main)
    assert read_rating(sidecar(photo)) == 1


def test_saving_never_blocks_the_ui_and_runs_in_order(qtbot, main, shoot, monkeypatch):
    page = main.photo_page
    photo = open_folder(qtbot, main, shoot)[0]
    threads, release, real = [], threading.Event(), gui_ratings.set_stars

    def stalled(path, stars):  # a network drive that hangs for a while
        threads.append(threading.current_thread())
        release.wait(10)
        return real(path, stars)

    monkeypatch.setattr(gui_ratings, "set_stars", stalled)
    for key in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3):
        qtbot.keyClick(page.filmstrip, key)
    # The keys came back and show the rating while the first write still hangs.
    assert page.rating_bar.stars_shown() == 3 and page.filmstrip.badge(photo) == "★★★"
    assert not sidecar(photo).exists()
    release.set()
    wait_saved(qtbot, main)
    assert read_rating(sidecar(photo)) == 3 and page.rating_bar.stars_shown() == 3  # in order
    assert len(threads) == 3 and threading.main_thread() not in threads


def test_a_rating_pressed_just_before_quitting_is_saved(qtbot, main, shoot, monkeypatch):
    photo = open_folder(qtbot, main, shoot)[0]
    real = gui_ratings.set_flag
    monkeypatch.setattr(gui_ratings, "set_flag",
                        lambda path, flag: (time.sleep(0.3), real(path, flag))[1])
    qtbot.keyClick(main.photo_page.filmstrip, Qt.Key.Key_X)
    main.close()
    assert read_rating(sidecar(photo)) == -1


def test_broken_sidecar_and_ratings_written_by_the_score(qtbot, main, shoot):
    photos = sorted(p for p in shoot.iterdir())
    broken = sidecar(photos[1])
    broken.write_text("<x:xmpmeta><rdf:RDF")
    write_rating(photos[2], 4, basis="score-percentile")
    page = main.photo_page
    open_folder(qtbot, main, shoot)
    assert page.filmstrip.badge(photos[1]) == "?"
    assert "not valid XMP" in page.filmstrip.item(1).toolTip()
    assert page.filmstrip.badge(photos[2]) == "★★★★"  # grey: the score's, not yours
    assert "from the score" in page.filmstrip.item(2).toolTip()

    page.filmstrip.setCurrentRow(1)
    qtbot.waitUntil(lambda: page.analysis is not None, timeout=10_000)  # its status line first
    assert "not valid XMP" in page.rating_bar.note.full_text()
    qtbot.keyClick(page.filmstrip, Qt.Key.Key_5)
    wait_saved(qtbot, main)
    assert "rating not saved" in status(main) and "not valid XMP" in status(main)
    note = page.rating_bar.note.full_text()
    assert note.startswith(f"not saved: {broken.name}: not valid XMP") and "\n" not in note
    assert page.rating_bar.stars_shown() == 0  # back to what the file says
    assert broken.read_text() == "<x:xmpmeta><rdf:RDF"
    qtbot.waitUntil(lambda: page.filmstrip.badge(photos[1]) == "?", timeout=5000)

    page.filmstrip.setCurrentRow(2)
    assert "from the score" in page.rating_bar.note.full_text()
    qtbot.keyClick(page.filmstrip, Qt.Key.Key_4)  # the same stars, now the photographer's
    wait_saved(qtbot, main)
    assert read_photo_rating(photos[2]) == PhotoRating(stars=4)
    assert page.rating_bar.note.full_text() == gui_ratings.KEYS_HINT
    assert write_rating(photos[2], 1, basis="score-mean").kept_manual


def test_a_photo_opened_on_its_own_can_be_rated(qtbot, main, tmp_path):
    photo = Path(shutil.copy(PHOTOS["coffee"], tmp_path / "coffee.png"))
    write_rating(photo, 2, basis="score-mean")
    page = main.photo_page
    main.open_path(photo)
    qtbot.waitUntil(lambda: page.rating_bar.stars_shown() == 2, timeout=5000)
    assert "from the score" in page.rating_bar.note.full_text()
    assert page.rating_bar.count.text() == ""  # no folder open
    qtbot.waitUntil(lambda: page.analysis is not None, timeout=10_000)  # its status line first
    qtbot.keyClick(page.viewer, Qt.Key.Key_P)
    wait_saved(qtbot, main)
    assert read_photo_rating(photo) == PhotoRating(stars=2, picked=True, automatic=True)
    assert status(main) == "coffee.png: ★★, picked saved to coffee.png.xmp"


def test_embedded_ratings_show_where_they_come_from(qtbot, main, tmp_path):
    """A rating exiftool embedded in the photo (as digiKam does) shows in the filmstrip,
    the rating bar and the Folder table, each saying it is embedded; rating it here saves
    a sidecar, which wins from then on."""
    from critique_app.gui.folder.table_model import RATING_COLUMN
    from tests.helpers.sidecars import exiftool

    shoot = copy_shoot(tmp_path / "shoot", ["rocket", "chelsea"])
    photo = shoot / "rocket.jpg"
    exiftool("-XMP-xmp:Rating=4", "-XMP-xmp:Label=Red", photo)
    page = main.photo_page
    photos = open_folder(qtbot, main, shoot)
    row = photos.index(photo)
    qtbot.waitUntil(lambda: page.filmstrip.badge(photo) == "★★★★", timeout=5000)
    tip = page.filmstrip.item(row).toolTip()
    assert "★★★★, red label — embedded in rocket.jpg (its own XMP)" in tip

    model = main.folder_view.model
    model.set_rows([{"path": str(p), "status": "ok"} for p in photos])
    index = model.index(row, RATING_COLUMN)
    assert index.data() == "★★★★" and "embedded in rocket.jpg" in index.data(
        Qt.ItemDataRole.ToolTipRole)
    assert model.index(1 - row, RATING_COLUMN).data() == ""

    page.filmstrip.setCurrentRow(row)
    qtbot.waitUntil(lambda: page.analysis is not None, timeout=10_000)  # its status line first
    assert page.rating_bar.note.full_text().startswith("embedded in rocket.jpg")
    qtbot.keyClick(page.filmstrip, Qt.Key.Key_2)
    wait_saved(qtbot, main)
    assert read_rating(sidecar(photo)) == 2 and page.filmstrip.badge(photo) == "★★"
    assert "set in Critique, saved in rocket.jpg.xmp" in page.filmstrip.item(row).toolTip()
    assert "set in Critique" in model.index(row, RATING_COLUMN).data(Qt.ItemDataRole.ToolTipRole)
    assert page.rating_bar.note.full_text() == gui_ratings.KEYS_HINT
