"""The photo viewer, overlay controls, filmstrip and the thumbnail cache behind it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from critique_app.core.library import thumbnails
from critique_app.core.maps.base import OK, MapResult, unavailable
from critique_app.core.maps.overlay import colorize, overlay_rgba, render_overlay
from critique_app.core.photo import load_photo
from critique_app.core.util.errors import PhotoError
from critique_app.core.util.paths import data_dir
from critique_app.gui.photo.filmstrip import Filmstrip
from critique_app.gui.photo.overlay_controls import OverlayControls
from critique_app.gui.photo.viewer import PhotoViewer, to_qimage
from tests.helpers.photos import PHOTOS, load_rgb


def as_array(image: QImage) -> np.ndarray:
    """A QImage (e.g. a widget grab) as H x W x 3 uint8."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1)
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def grab(widget) -> np.ndarray:
    QApplication.processEvents()
    return as_array(widget.grab().toImage())


# --- core: overlay_rgba and thumbnails ---------------------------------------------
def test_overlay_rgba_follows_render_overlay_alpha_rule():
    values = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (8, 1))
    blur = overlay_rgba(values, "blur")
    assert blur.shape == (8, 64, 4) and blur.dtype == np.uint8
    assert np.array_equal(blur[..., :3], colorize(values, "blur"))
    assert (blur[..., 3][values <= 0.15] == 0).all()  # low values leave the photo clean
    assert (blur[..., 3][values >= 0.6] == 255).all()
    assert (np.diff(blur[0, :, 3].astype(int)) >= 0).all()
    assert (overlay_rgba(values, "depth")[..., 3] == 255).all()  # depth tints everywhere

    photo = np.full((8, 64, 3), 100, np.uint8)
    alpha = blur[..., 3:].astype(np.float32) / 255
    blended = photo * (1 - alpha) + blur[..., :3] * alpha
    expected = render_overlay(photo, values, "blur", opacity=1.0)
    assert np.abs(blended - expected).max() <= 1.5


def test_thumbnail_is_small_and_cached_on_disk(monkeypatch):
    first = thumbnails.thumbnail(PHOTOS["chelsea"], 96)
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3
    assert max(first.shape[:2]) == 96
    cached = list((data_dir() / "thumbnails").glob("*.jpg"))
    assert len(cached) == 1

    def no_decoding(*_args, **_kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(thumbnails, "load_photo", no_decoding)
    second = thumbnails.thumbnail(PHOTOS["chelsea"], 96)
    assert second.shape == first.shape
    assert np.abs(second.astype(int) - first).mean() < 3  # the JPEG round trip


def test_thumbnail_cache_follows_file_changes_and_survives_corruption(tmp_path, monkeypatch):
    photo = shutil.copy(PHOTOS["coffee"], tmp_path / "photo.png")
    decodes = []
    real_load = thumbnails.load_photo

    def counting_load(*args, **kwargs):
        decodes.append(args[0])
        return real_load(*args, **kwargs)

    monkeypatch.setattr(thumbnails, "load_photo", counting_load)
    before = thumbnails.thumbnail(photo)
    assert len(decodes) == 1

    shutil.copy(PHOTOS["camera"], photo)  # edited: new size and mtime
    stat = os.stat(photo)
    os.utime(photo, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    after = thumbnails.thumbnail(photo)
    assert len(decodes) == 2 and after.shape != before.shape

    for cached in (data_dir() / "thumbnails").glob("*.jpg"):
        cached.write_bytes(b"garbage, not a JPEG")
    again = thumbnails.thumbnail(photo)
    assert len(decodes) == 3 and again.shape == after.shape
    thumbnails.thumbnail(photo)
    assert len(decodes) == 3  # the corrupt cache file was rewritten
    assert not list((data_dir() / "thumbnails").glob(".thumb-*"))  # no temp files left


def test_thumbnail_of_a_corrupt_photo_raises_one_line_photo_error(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole JPEG")
    with pytest.raises(PhotoError) as caught:
        thumbnails.thumbnail(broken)
    assert "\n" not in str(caught.value) and "broken.jpg" in str(caught.value)


# --- viewer ------------------------------------------------------------------------
def test_to_qimage_copies_rgb_rgba_and_strided_arrays():
    rgb = load_rgb("chelsea")[::3, ::2]  # not contiguous
    image = to_qimage(rgb)
    assert (image.width(), image.height()) == (rgb.shape[1], rgb.shape[0])
    back = as_array(image)
    assert np.array_equal(back, rgb)
    rgba = np.zeros((5, 7, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    image = to_qimage(rgba)
    del rgba  # the image owns its pixels
    assert image.pixelColor(3, 2).red() == 200
    with pytest.raises(ValueError):
        to_qimage(np.zeros((4, 4), np.float32))


@pytest.fixture
def viewer(qtbot):
    view = PhotoViewer()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    return view


@pytest.fixture
def preview():
    return load_photo(PHOTOS["chelsea"], max_side=200).to_uint8()


BIG = (4000, 2660)  # chelsea's aspect, as a 10 MP camera file


def test_show_photo_fits_and_zooms(viewer, preview, qtbot):
    viewer.show_photo(preview, BIG)
    assert viewer.has_photo and viewer.fitting
    fitted = viewer.zoom()
    assert fitted == pytest.approx(min(400 / BIG[0], 300 / BIG[1]), rel=0.02)
    visible = viewer.mapToScene(viewer.viewport().rect()).boundingRect()
    assert visible.contains(viewer.sceneRect())  # the whole photo is on screen

    viewer.actual_size()
    assert viewer.zoom() == pytest.approx(1.0) and not viewer.fitting
    with qtbot.waitSignal(viewer.zoomChanged) as blocker:
        viewer.zoom_by(0.5)
    assert blocker.args[0] == pytest.approx(0.5)
    viewer.zoom_by(1e6)
    assert viewer.zoom() == pytest.approx(16.0)  # the zoom limit
    viewer.fit()
    assert viewer.zoom() == pytest.approx(fitted)


def test_resize_keeps_fit_mode_but_not_a_chosen_zoom(viewer, preview):
    viewer.show_photo(preview, BIG)
    viewer.resize(800, 600)
    QApplication.processEvents()
    assert viewer.zoom() == pytest.approx(min(800 / BIG[0], 600 / BIG[1]), rel=0.02)
    viewer.zoom_by(2)
    chosen = viewer.zoom()
    viewer.resize(500, 400)
    QApplication.processEvents()
    assert viewer.zoom() == pytest.approx(chosen)


def test_wheel_zooms_around_the_cursor(viewer, preview):
    viewer.show_photo(preview, BIG)
    viewer.actual_size()
    cursor = QPoint(100, 80)
    under = viewer.mapToScene(cursor)
    before = viewer.zoom()
    wheel = QWheelEvent(QPointF(cursor), QPointF(viewer.viewport().mapToGlobal(cursor)),
                        QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewer.viewport(), wheel)
    assert viewer.zoom() == pytest.approx(before * 1.25)
    after = viewer.mapToScene(cursor)
    assert abs(after.x() - under.x()) < 2 and abs(after.y() - under.y()) < 2

    zoomed = viewer.zoom()  # a touchpad's two-finger scroll pans instead
    swipe = QWheelEvent(QPointF(cursor), QPointF(viewer.viewport().mapToGlobal(cursor)),
                        QPoint(0, 30), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.ScrollUpdate, False)
    QApplication.sendEvent(viewer.viewport(), swipe)
    assert viewer.zoom() == zoomed
    assert viewer.mapToScene(cursor) != after


def test_upgrade_pixels_keeps_zoom_and_pan(viewer, preview):
    viewer.show_photo(preview, BIG)
    viewer.zoom_by(3)
    zoom, centre = viewer.zoom(), viewer.mapToScene(viewer.viewport().rect().center())
    sharper = load_photo(PHOTOS["chelsea"], max_side=450).to_uint8()
    viewer.upgrade_pixels(sharper)
    assert viewer.zoom() == pytest.approx(zoom)
    assert viewer.mapToScene(viewer.viewport().rect().center()) == centre
    assert viewer.sceneRect().width() == BIG[0]


def test_overlay_tints_where_it_is_opaque_and_follows_opacity(viewer, preview):
    viewer.show_photo(preview, BIG)
    plain = grab(viewer).astype(int)
    rgba = np.zeros((20, 30, 4), np.uint8)  # analysis resolution, stretched over the photo
    rgba[:, :15] = (255, 0, 255, 255)  # opaque magenta on the left half only
    viewer.set_overlay(rgba)
    viewer.set_overlay_opacity(1.0)
    tinted = grab(viewer).astype(int)
    mid = tinted.shape[1] // 2
    assert np.abs(tinted[:, : mid - 10] - plain[:, : mid - 10]).mean() > 40
    assert np.abs(tinted[:, mid + 10 :] - plain[:, mid + 10 :]).mean() < 1
    viewer.set_overlay_opacity(0.3)
    faint = grab(viewer).astype(int)
    assert 2 < np.abs(faint[:, : mid - 10] - plain[:, : mid - 10]).mean() < 40
    viewer.set_overlay(None)
    assert np.abs(grab(viewer).astype(int) - plain).mean() < 1


def test_highlight_outlines_a_region(viewer, preview):
    viewer.show_photo(preview, BIG)
    plain = grab(viewer).astype(int)
    viewer.highlight((0.5, 0.5, 0.9, 0.9))
    assert viewer.highlighted == pytest.approx((0.5, 0.5, 0.9, 0.9))
    marked = grab(viewer).astype(int)
    changed = np.abs(marked - plain).sum(axis=2) > 30
    assert changed[:100].mean() > 0.5  # the top (outside the region) is dimmed
    viewer.highlight(None)
    assert viewer.highlighted is None
    assert np.abs(grab(viewer).astype(int) - plain).mean() < 1


def test_clear_shows_the_placeholder_and_no_photo(viewer, preview):
    viewer.show_photo(preview, BIG)
    viewer.set_overlay(overlay_rgba(np.ones((10, 10), np.float32), "depth"))
    viewer.clear("Open a photo")
    assert not viewer.has_photo and viewer.message == "Open a photo"
    assert viewer.scene().items() == []
    shot = grab(viewer)
    assert shot.std() > 1  # text on the plain background
    viewer.set_overlay(np.zeros((4, 4, 4), np.uint8))  # ignored without a photo
    assert viewer.scene().items() == []


# --- overlay controls --------------------------------------------------------------
def results() -> dict[str, MapResult]:
    values = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    return {
        "saliency": MapResult("saliency", OK, "spectral", "most salient", map=values),
        "blur": MapResult("blur", OK, "laplacian", "strongly blurred", map=values),
        "depth": unavailable("depth", "depth-anything", "nearest", "no depth model installed",
                             "Models…"),
    }


def test_unavailable_modality_explains_itself_and_emits_nothing(qtbot):
    controls = OverlayControls()
    qtbot.addWidget(controls)
    controls.set_maps(results())
    with qtbot.assertNotEmitted(controls.overlayChanged):
        controls.set_current("depth")
    assert controls.current() == "depth" and controls.shown() == "none"
    assert "no depth model installed" in controls.message.text()
    assert "Models…" in controls.message.text()
    assert controls.legend.modality is None


def test_available_modality_emits_and_shows_its_legend(qtbot):
    controls = OverlayControls()
    qtbot.addWidget(controls)
    controls.set_maps(results())
    with qtbot.waitSignal(controls.overlayChanged) as blocker:
        controls.set_current("blur")
    assert blocker.args == ["blur"]
    assert controls.message.text() == "" and controls.legend.modality == "blur"
    with qtbot.waitSignal(controls.overlayChanged) as blocker:  # a new photo's maps
        controls.set_maps(results())
    assert blocker.args == ["blur"]
    with qtbot.waitSignal(controls.overlayChanged) as blocker:  # blur off the photo
        controls.set_current("depth")
    assert blocker.args == ["none"]
    with qtbot.waitSignal(controls.opacityChanged) as blocker:
        controls.slider.setValue(0.25)
    assert blocker.args[0] == pytest.approx(0.25)
    assert controls.opacity() == pytest.approx(0.25)


# --- filmstrip ---------------------------------------------------------------------
@pytest.fixture
def strip_paths(tmp_path) -> list[Path]:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"not a photo at all")
    return [PHOTOS["chelsea"], PHOTOS["coffee"], corrupt, PHOTOS["rocket"]]


def test_filmstrip_loads_thumbnails_and_flags_broken_files(qtbot, bridge, strip_paths):
    strip = Filmstrip(bridge)
    qtbot.addWidget(strip)
    strip.set_photos([PHOTOS["camera"]] * 3)  # stale: replaced at once
    strip.set_photos(strip_paths)
    assert strip.count() == 4 and strip.paths() == strip_paths
    qtbot.waitUntil(lambda: strip.pending() == 0, timeout=5000)
    assert strip.failed(strip_paths[0]) is None
    assert "not a valid JPG" in strip.failed(strip_paths[2])
    assert "not a valid JPG" in strip.item(2).toolTip()
    icons = {strip.item(row).icon().cacheKey() for row in range(4)}
    assert len(icons) == 4  # three thumbnails and the broken tile, no placeholder left


def test_filmstrip_selection_and_arrow_keys(qtbot, bridge, strip_paths):
    strip = Filmstrip(bridge)
    qtbot.addWidget(strip)
    strip.resize(600, 130)
    strip.show()
    strip.set_photos(strip_paths)
    with qtbot.assertNotEmitted(strip.photoSelected):
        assert strip.select(strip_paths[1])
    assert strip.current_path() == strip_paths[1]
    with qtbot.waitSignal(strip.photoSelected) as blocker:
        strip.setCurrentRow(0)  # as a click does
    assert blocker.args == [strip_paths[0]]
    strip.setFocus()
    with qtbot.waitSignal(strip.photoSelected) as blocker:
        qtbot.keyClick(strip, Qt.Key.Key_Right)
    assert blocker.args == [strip_paths[1]]
    qtbot.keyClick(strip, Qt.Key.Key_Left)
    assert strip.current_path() == strip_paths[0]
    assert not strip.select(Path("/nowhere/else.jpg"))
    qtbot.waitUntil(lambda: strip.pending() == 0, timeout=5000)
