"""The folder-scoring view: real photos, the real core, the real bridge, offscreen Qt."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from critique_app.core.folder_scoring.columns import COLUMNS
from critique_app.core.library.xmp import read_rating
from critique_app.core.scoring.scorer import NO_SCORER_HINT
from critique_app.gui.folder.table_model import (
    PERCENTILE_COLUMN,
    PHOTO_COLUMN,
    SCORE_COLUMN,
    SORT_ROLE,
)
from critique_app.gui.folder.view import FolderView
from tests.helpers.photos import PHOTOS, SHOOT, copy_shoot

NAMES = SHOOT
MANUAL_XMP = """<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="2"/>
 </rdf:RDF>
</x:xmpmeta>
"""


@pytest.fixture
def shoot(tmp_path) -> Path:
    """Four real photos and a file that only pretends to be a JPEG."""
    folder = copy_shoot(tmp_path / "shoot", NAMES)
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 10)
    return folder


@pytest.fixture
def view(qtbot, bridge):
    widget = FolderView(bridge)
    qtbot.addWidget(widget)
    widget.resize(900, 500)
    return widget


def _score(qtbot, view: FolderView) -> None:
    assert view.score_button.isEnabled()
    view.score_button.click()
    assert view.is_running and not view.score_button.isEnabled()
    qtbot.waitUntil(lambda: not view.is_running, timeout=60_000)


@pytest.fixture
def scored(qtbot, view, shoot, installed) -> FolderView:
    view.set_folder(shoot)
    _score(qtbot, view)
    return view


def _column(view: FolderView, column: int) -> list:
    proxy = view.proxy
    return [proxy.index(r, column).data(SORT_ROLE) for r in range(proxy.rowCount())]


def test_without_a_score_model_every_photo_is_measured_and_the_hint_shown(qtbot, view, shoot):
    view.set_folder(shoot)
    assert view.folder_label.text() == f"5 photos in {shoot}"
    assert not view.xmp_button.isEnabled() and not view.export_button.isEnabled()
    _score(qtbot, view)

    rows = view.rows()
    assert view.model.rowCount() == len(rows) == 5
    assert view.last_result is not None and not view.last_result.cancelled
    assert view.summary_label.text() == "cached 0, computed 4, failed 1"
    assert not view.info_label.isHidden() and NO_SCORER_HINT in view.info_label.text()
    ok = [row for row in rows if row["status"] == "ok"]
    assert len(ok) == 4 and all(r.get("score_mean") is None and r["sharpness"] is not None
                                for r in ok)
    bad = next(row for row in rows if row["status"] == "error")
    assert Path(bad["path"]).name == "corrupt.jpg" and bad["error"]
    source_row = rows.index(bad)
    status = view.model.index(source_row, view.model.columnCount() - 1)
    assert bad["error"] in status.data() and bad["error"] in status.data(Qt.ToolTipRole)
    assert status.data(Qt.BackgroundRole) is not None  # tinted
    photo = view.model.index(source_row, PHOTO_COLUMN)
    assert photo.data() == "corrupt.jpg" and bad["path"] in photo.data(Qt.ToolTipRole)
    assert view.model.index(0, SCORE_COLUMN).data() == "—"
    assert not view.xmp_button.isEnabled()  # nothing to rate from
    assert view.export_button.isEnabled() and view.score_button.isEnabled()

    _score(qtbot, view)  # again: everything comes from the results cache
    assert view.summary_label.text() == "cached 4, computed 0, failed 1"


def test_scores_sort_numerically_with_empty_last_and_filter(scored):
    view = scored
    assert view.info_label.isHidden()
    scores = [r["score_mean"] for r in view.rows() if r["status"] == "ok"]
    assert len(scores) == 4 and all(1 <= s <= 10 for s in scores)
    assert view.xmp_button.isEnabled()

    view.table.sortByColumn(SCORE_COLUMN, Qt.AscendingOrder)
    assert _column(view, SCORE_COLUMN) == [*sorted(scores), None]
    texts = [view.proxy.index(r, SCORE_COLUMN).data() for r in range(4)]
    assert texts == [f"{s:.2f}" for s in sorted(scores)]
    view.table.sortByColumn(SCORE_COLUMN, Qt.DescendingOrder)
    assert _column(view, SCORE_COLUMN) == [*sorted(scores, reverse=True), None]
    view.table.sortByColumn(PERCENTILE_COLUMN, Qt.AscendingOrder)  # 100 after 33.3, not before
    assert _column(view, PERCENTILE_COLUMN) == [0.0, 33.3, 66.7, 100.0, None]

    threshold = sorted(scores)[2]
    view.min_score.setValue(threshold)
    kept = _column(view, SCORE_COLUMN)
    assert kept and all(s >= view.min_score.value() for s in kept)
    assert len(kept) == sum(s >= view.min_score.value() for s in scores)
    view.min_score.setValue(0)
    assert view.proxy.rowCount() == 5

    view.status_filter.setCurrentIndex(view.status_filter.findText("Errors"))
    assert view.proxy.rowCount() == 1
    assert view.proxy.index(0, PHOTO_COLUMN).data() == "corrupt.jpg"
    view.status_filter.setCurrentIndex(view.status_filter.findText("OK"))
    assert view.proxy.rowCount() == 4
    assert len(view.rows()) == 5  # filters only hide


def test_export_csv_writes_every_row(scored, tmp_path, monkeypatch):
    view = scored
    target = tmp_path / "out" / "results.csv"
    monkeypatch.setattr(view, "choose_export_path", lambda: target)
    view.status_filter.setCurrentIndex(view.status_filter.findText("OK"))  # still all rows
    assert view.export_csv() == target
    lines = target.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 5
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(COLUMNS)
    assert {Path(r["path"]).name for r in rows} == {PHOTOS[n].name for n in NAMES} | {
        "corrupt.jpg"}

    monkeypatch.setattr(view, "choose_export_path", lambda: None)  # dialog cancelled
    assert view.export_csv() is None


def test_write_xmp_ratings_keeps_the_photographers_own(qtbot, scored, shoot):
    view = scored
    manual = shoot / (PHOTOS["coffee"].name + ".xmp")
    manual.write_text(MANUAL_XMP, encoding="utf-8")
    view.xmp_button.click()
    assert view.is_running
    qtbot.waitUntil(lambda: not view.is_running, timeout=30_000)

    assert view.summary_label.text() == ("XMP ratings: written 3, kept your own ratings 1, "
                                         "skipped 0")
    for row in view.rows():
        sidecar = Path(row["path"] + ".xmp")
        if row["status"] != "ok":
            assert not sidecar.exists()
        elif sidecar == manual:
            assert read_rating(sidecar) == 2
        else:
            assert "xmp:Rating" in sidecar.read_text(encoding="utf-8")
            assert 1 <= read_rating(sidecar) <= 5
    assert view.score_button.isEnabled() and view.xmp_button.isEnabled()


def test_double_click_opens_the_photo(qtbot, scored):
    view = scored
    view.show()
    qtbot.waitExposed(view)
    view.table.sortByColumn(SCORE_COLUMN, Qt.DescendingOrder)
    index = view.proxy.index(0, SCORE_COLUMN)
    best = max((r for r in view.rows() if r.get("score_mean") is not None),
               key=lambda r: r["score_mean"])
    where = view.table.visualRect(index).center()
    with qtbot.waitSignal(view.openPhoto, timeout=2000) as opened:
        # QTest's double click has no press; the view wants the press on the same cell
        qtbot.mouseClick(view.table.viewport(), Qt.LeftButton, pos=where)
        qtbot.mouseDClick(view.table.viewport(), Qt.LeftButton, pos=where)
    assert opened.args == [Path(best["path"])]


def test_cancel_mid_run_returns_to_idle(qtbot, view, tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(80):
        source = PHOTOS[NAMES[i % len(NAMES)]]
        target = folder / f"IMG_{i:03d}{source.suffix}"
        try:
            os.link(source, target)  # distinct paths are distinct photos to the runner
        except OSError:
            shutil.copy(source, target)
    view.set_folder(folder)
    with qtbot.waitSignal(view.scoreProgress, timeout=30_000):
        view.score()
    view.cancel_button.click()
    qtbot.waitUntil(lambda: not view.is_running, timeout=30_000)

    result = view.last_result
    assert result is None or result.cancelled
    done = len(view.rows())
    assert done < 80
    assert "cancelled" in view.summary_label.text()
    assert view.score_button.isEnabled() and not view.cancel_button.isEnabled()

    _score(qtbot, view)  # resumes: what was done comes from the cache
    assert len(view.rows()) == 80 and not view.last_result.cancelled
    assert view.last_result.cached >= done - view.last_result.failed


def test_a_new_folder_discards_the_running_one(qtbot, view, shoot, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(PHOTOS["camera"], other / "camera.png")
    view.set_folder(shoot)
    view.score()
    view.set_folder(other)
    assert not view.is_running and view.rows() == []
    assert view.folder_label.text() == f"1 photo in {other}"
    _score(qtbot, view)
    assert [Path(r["path"]).name for r in view.rows()] == ["camera.png"]
