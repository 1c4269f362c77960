"""A cull's rows, summary and XMP picks, from results built by hand (the grouping and
ranking have their own tests); the files are real JPEGs from tests/helpers/bursts."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from critique_app.core.culling.columns import COLUMNS, markdown
from critique_app.core.culling.cull import (
    cull_flag,
    cull_rows,
    summary_lines,
    taken_at,
    write_cull_xmp,
)
from critique_app.core.culling.output import write_cull_results
from critique_app.core.culling.verdicts import CulledPhoto, CullResult, Group, Verdict
from critique_app.core.library.ratings import read_photo_rating, set_stars
from critique_app.core.util.errors import CritiqueError
from tests.helpers.bursts import add_bracket, add_burst, add_single, new_shoot
from tests.helpers.photos import REPO_ROOT

T0 = 1_777_629_600.0  # 2026-05-01 10:00:00 on the camera's clock


def _facts(time: float | None, faces=(), score=None) -> dict:
    return {"exif_time": time, "file_time": 0.0, "score": score,
            "faces": {"method": "haar", "note": "face models not installed: OpenCV Haar "
                      "cascades used (no eye openness)", "faces": list(faces)}}


def _result(paths: list[Path]) -> CullResult:
    """Paths 0-2 a burst (1 best, 0 blurred), 3-5 a bracket (3 best), 6 a flagged
    single, 7 unreadable."""
    face = {"box": [0.1, 0.1, 0.3, 0.4], "confidence": 0.9,
            "eyes": [{"side": "right", "openness": 0.31, "visible": True, "why": ""},
                     {"side": "left", "openness": None, "visible": False,
                      "why": "eye 9 px wide: too small to tell"}]}
    groups = [Group("burst", (0, 1, 2), "3 frames within 0.8 s, near-identical"),
              Group("bracket", (3, 4, 5), "exposure steps 0, -2, +2 EV", keep_whole=True),
              Group("single", (6,), "nothing like it within 2 s")]
    verdicts = [Verdict(0, 0, 3, False, ("subject-blur",), ("subject blurred: 0.21 vs 0.64",)),
                Verdict(1, 0, 1, True, (), ("sharpest subject (0.64)", "eyes open")),
                Verdict(2, 0, 2, False, (), ("subject less sharp (0.55)",)),
                Verdict(3, 1, 1, True, (), ("middle exposure",)),
                Verdict(4, 1, 2, False, ("underexposed",), ("2.0 EV under the group",)),
                Verdict(5, 1, 3, False, ("overexposed",), ("2.0 EV over the group",)),
                Verdict(6, 2, 1, True, ("subject-blur",), ("subject blurred",))]
    photos = [CulledPhoto(path, facts=_facts(T0 + 0.3 * i, [face] if i == 1 else (),
                                             score=5.5 if i == 1 else None),
                          verdict=verdicts[i]) for i, path in enumerate(paths[:7])]
    photos.append(CulledPhoto(paths[7], error="not a photo (cannot identify image file)"))
    return CullResult(photos, groups, cached=2, computed=5, failed=1,
                      face_method="haar", face_note=photos[0].facts["faces"]["note"])


@pytest.fixture
def shoot(tmp_path):
    shoot = new_shoot(tmp_path / "shoot")
    add_burst(shoot, "chelsea", roles=("shaken", "sharp", "defocused"))
    shoot.wait(60)
    add_bracket(shoot, "coffee")
    shoot.wait(60)
    add_single(shoot, "china", role="shaken")
    broken = shoot.folder / "IMG_0008.jpg"
    broken.write_bytes(b"not a jpeg")
    return [*shoot.paths, broken]


def _digests(paths) -> dict:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_rows_have_every_column_in_order(shoot):
    rows = cull_rows(_result(shoot))
    assert [list(row) for row in rows] == [list(COLUMNS)] * 8
    best = rows[1]
    assert best["status"] == "ok" and best["error"] == ""
    assert (best["group"], best["group_size"], best["group_kind"]) == (1, 3, "burst")
    assert (best["rank"], best["best"], best["flags"]) == (1, 1, "")
    assert best["reasons"] == "sharpest subject (0.64) | eyes open"
    assert best["taken_at"] == "2026-05-01 10:00:00.300"
    assert (best["faces"], best["eyes"], best["score"]) == (1, "R 0.31 L ?", 5.5)
    blurred = rows[0]
    assert (blurred["rank"], blurred["best"], blurred["flags"]) == (3, 0, "subject-blur")
    assert blurred["faces"] == 0 and blurred["eyes"] is None
    assert [row["group"] for row in rows[3:7]] == [2, 2, 2, 3]
    assert rows[7]["status"] == "error" and "not a photo" in rows[7]["error"]
    assert rows[7]["group"] is None


def test_rows_leave_out_photos_a_cancelled_run_did_not_reach(shoot):
    result = _result(shoot)
    result.photos.append(CulledPhoto(shoot[0].with_name("later.jpg")))
    result.cancelled = True
    assert len(cull_rows(result)) == 8
    assert summary_lines(result)[0].endswith("(interrupted)")


def test_csv_and_json(shoot, tmp_path):
    rows = cull_rows(_result(shoot))
    with open(write_cull_results(rows, tmp_path / "cull.csv"), newline="") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == list(COLUMNS) and len(table) == 8
    assert table[1]["best"] == "1" and table[0]["flags"] == "subject-blur"
    assert table[7]["group"] == ""
    data = json.loads(write_cull_results(rows, tmp_path / "cull.json").read_text())
    assert data[1]["group"] == 1 and data[1]["best"] == 1 and data[7]["group"] is None
    with pytest.raises(CritiqueError):
        write_cull_results(rows, tmp_path / "cull.txt")


def test_summary(shoot):
    lines = summary_lines(_result(shoot))
    assert lines[0] == "8 photos: 2 cached, 5 computed, 1 failed"
    assert lines[1] == "3 groups: 1 burst, 1 single, 1 bracket"
    assert lines[2] == "3 picks (the best frame of each group); 1 kept whole (never rejected)"
    assert lines[3] == "4 flagged frames: 2 subject-blur, 1 underexposed, 1 overexposed"
    assert lines[4] == ("faces: face models not installed: OpenCV Haar cascades used "
                        "(no eye openness)")  # the note names the method: said once


def test_xmp_picks_the_best_of_each_group_and_never_writes_a_photo(shoot):
    before = _digests(shoot)
    result = _result(shoot)
    report = write_cull_xmp(result)
    assert (report.picked, report.rejected, report.kept) == (3, 0, 0)
    flags = [read_photo_rating(path) for path in shoot[:7]]
    assert [r.picked for r in flags] == [False, True, False, True, False, False, True]
    assert not any(r.rejected for r in flags)
    assert _digests(shoot) == before


def test_reject_others_rejects_the_rest_of_bursts_only(shoot):
    result = _result(shoot)
    report = write_cull_xmp(result, reject_others=True)
    assert (report.picked, report.rejected) == (3, 2)
    rejected = [read_photo_rating(path).rejected for path in shoot[:7]]
    # the burst's others, never the bracket (kept whole) nor the flagged single
    assert rejected == [True, False, True, False, False, False, False]
    assert cull_flag(result, result.photos[6], reject_others=True) == "pick"


def test_a_rerun_moves_the_pick_and_keeps_the_photographers_rating(shoot):
    write_cull_xmp(_result(shoot), reject_others=True)
    set_stars(shoot[2], 4)  # the photographer liked another frame of the burst
    result = _result(shoot)
    result.photos[0].verdict = Verdict(0, 0, 1, True)
    result.photos[1].verdict = Verdict(1, 0, 2, False)
    report = write_cull_xmp(result)  # without reject_others: our rejects are cleared
    assert report.kept == 1
    now = [read_photo_rating(path) for path in shoot[:3]]
    assert (now[0].picked, now[0].rejected) == (True, False)
    assert (now[1].picked, now[1].rejected) == (False, False)  # our old pick went
    assert now[2].stars == 4 and not now[2].rejected


def test_taken_at():
    assert taken_at(None) is None
    assert taken_at(T0 + 12.25) == "2026-05-01 10:00:12.250"


def test_the_columns_doc_is_generated():
    assert (REPO_ROOT / "docs" / "cull-columns.md").read_text(encoding="utf-8") == markdown()


@pytest.mark.slow
def test_a_cancelled_cull_keeps_what_is_done_and_the_next_resumes(tmp_path):
    import threading

    from critique_app.core.culling.cull import cull_folder
    from critique_app.core.library.results_cache import ResultsCache
    from critique_app.core.scoring.scorer import ScorerSet

    shoot = new_shoot(tmp_path / "shoot")
    # more photos than the runner keeps in flight after its first batch (16 + 2 jobs)
    for seed, name in enumerate(("chelsea", "coffee", "astronaut", "china") * 2):
        add_burst(shoot, name, seed=seed)
        shoot.wait(120)
    cancel = threading.Event()

    def progress(done, total, counts):
        if done:
            cancel.set()  # as Ctrl-C does, once the first batch is stored

    with ResultsCache(tmp_path / "cache.sqlite") as cache:
        first = cull_folder(shoot.paths, cache=cache, scorers=ScorerSet(), cancel=cancel,
                            progress=progress)
        assert first.cancelled and 0 < first.computed < len(shoot.paths)
        rows = cull_rows(first)
        assert len(rows) == first.computed and all(row["rank"] for row in rows)
        assert summary_lines(first)[0].endswith("(interrupted)")
        second = cull_folder(shoot.paths, cache=cache, scorers=ScorerSet())
    assert not second.cancelled
    assert (second.cached, second.computed) == (first.computed,
                                                len(shoot.paths) - first.computed)
    assert len(second.groups) == 8
    assert sorted(photo.verdict.group for photo in second.photos
                  if photo.verdict.best) == list(range(8))


def test_a_sidecar_that_cannot_be_written_is_reported_and_the_rest_go_on(shoot):
    sidecar = shoot[1].with_name(shoot[1].name + ".xmp")  # the burst's best
    sidecar.write_text("<x:xmpmeta> not closed")
    report = write_cull_xmp(_result(shoot))
    assert len(report.failed) == 1 and sidecar.name in report.failed[0]
    assert "\n" not in report.failed[0]
    assert report.picked == 2  # the bracket's and the single's
    assert sidecar.read_text() == "<x:xmpmeta> not closed"
