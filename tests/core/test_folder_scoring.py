"""The whole chain: store -> scorer -> folder scoring -> CSV/XMP -> cache and resume."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from critique_app.core.folder_scoring.columns import COLUMNS, markdown
from critique_app.core.folder_scoring.runner import add_percentiles, score_photos
from critique_app.core.library.finding import PHOTO_EXTENSIONS, dialog_filter, find_photos
from critique_app.core.library.results_cache import ResultsCache
from critique_app.core.library.xmp import read_rating, stars_from_mean
from critique_app.core.scoring.scorer import find_scorers
from critique_app.core.store.store import ModelStore
from critique_app.core.util.errors import CritiqueError
from tests.helpers.depth_models import save_tiny_depth_model
from tests.helpers.photos import PHOTOS, load_rgb
from tests.helpers.score_models import save_tiny_scorer

REPO = Path(__file__).resolve().parents[2]


def _shoot(folder: Path, count: int) -> list[Path]:
    """Distinct real JPEGs: crops of the test photos at different offsets."""
    folder.mkdir(parents=True, exist_ok=True)
    names = ["chelsea", "coffee", "astronaut", "rocket"]
    paths = []
    for i in range(count):
        rgb = load_rgb(names[i % len(names)])
        crop = rgb[i % 7 * 4:, i % 5 * 4:]
        path = folder / f"IMG_{i:04d}.jpg"
        Image.fromarray(np.ascontiguousarray(crop)).save(path, quality=85)
        paths.append(path)
    return paths


def _critique(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "critique_app", *args], capture_output=True,
                          text=True, env=os.environ.copy(), timeout=240, **kwargs)


def test_score_folder_writes_rows_reports_bad_files_and_reruns_from_cache(installed, tmp_path):
    photos = _shoot(tmp_path / "shoot", 5)
    (tmp_path / "shoot" / "truncated.jpg").write_bytes(photos[0].read_bytes()[:300])
    (tmp_path / "shoot" / "notes.txt").write_text("not a photo, not listed")
    out = tmp_path / "results.csv"

    first = _critique("score", str(tmp_path / "shoot"), "--out", str(out), "--jobs", "2")
    assert first.returncode == 0, first.stderr
    assert "5 computed, 1 failed" in first.stdout
    assert "truncated.jpg" in first.stderr and "Traceback" not in first.stderr
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(COLUMNS) and len(rows) == 6
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 5 and all(1 <= float(r["score_mean"]) <= 10 for r in ok)
    assert all(abs(sum(float(r[f"p{i}"]) for i in range(1, 11)) - 1) < 1e-3 for r in ok)
    assert sorted(float(r["score_percentile"]) for r in ok) == [0, 25, 50, 75, 100]
    assert all(r["sharpness"] and r["highlights_clipped_pct"] for r in ok)
    bad = next(r for r in rows if r["status"] == "error")
    assert bad["path"].endswith("truncated.jpg") and bad["error"]

    again = _critique("score", str(tmp_path / "shoot"))
    assert again.returncode == 0 and "5 cached, 0 computed, 1 failed" in again.stdout


def test_no_trained_model_still_measures(tmp_path):
    _shoot(tmp_path / "shoot", 2)
    done = _critique("score", str(tmp_path / "shoot"), "--out", str(tmp_path / "r.json"))
    assert done.returncode == 0, done.stderr
    assert "no score model is installed" in done.stderr
    assert "critique models pull laion-aesthetic-v2" in done.stderr
    import json

    rows = json.loads((tmp_path / "r.json").read_text())
    assert all(r["score_mean"] is None and r["sharpness"] is not None for r in rows)


def test_cancel_keeps_what_is_done_and_resume_computes_only_the_rest(installed, tmp_path):
    paths = _shoot(tmp_path / "shoot", 12)
    scorers = find_scorers(runtime="torch")
    cancel = threading.Event()

    def stop_after_first_batch(done, total, counts):
        if counts["computed"] >= 4:
            cancel.set()

    with ResultsCache(tmp_path / "cache.sqlite") as cache:
        first = score_photos(paths, cache=cache, scorers=scorers, jobs=2, batch_size=4,
                             cancel=cancel, progress=stop_after_first_batch)
        assert first.cancelled and 4 <= first.computed < 12
        second = score_photos(paths, cache=cache, scorers=scorers, jobs=2, batch_size=4)
    assert second.cached == first.computed and second.computed == 12 - first.computed
    assert not second.cancelled and all(row["status"] == "ok" for row in second.rows)


def test_kill_9_mid_run_resumes_without_duplicates(installed, tmp_path):
    _shoot(tmp_path / "shoot", 40)
    database = Path(os.environ["CRITIQUE_HOME"]) / "cache" / "results.sqlite"
    process = subprocess.Popen([sys.executable, "-m", "critique_app", "score",
                                str(tmp_path / "shoot"), "--jobs", "2"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and process.poll() is None:
        stored = _result_count(database)
        if stored >= 16:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stored = _result_count(database)
    assert 0 < stored < 40, "the kill should land mid-run"

    resumed = _critique("score", str(tmp_path / "shoot"))
    assert resumed.returncode == 0, resumed.stderr
    assert f"{stored} cached, {40 - stored} computed, 0 failed" in resumed.stdout
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 40


def _result_count(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(database, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_xmp_ratings_follow_the_percentile_and_keep_manual_ones(installed, tmp_path):
    paths = _shoot(tmp_path / "shoot", 4)
    manual = paths[0].with_name(paths[0].name + ".xmp")
    manual.write_text('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
                      'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                      '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
                      'xmp:Rating="5"/></rdf:RDF></x:xmpmeta>')
    before = [(p.read_bytes(), p.stat().st_mtime_ns) for p in paths]
    done = _critique("score", str(tmp_path / "shoot"), "--xmp", "--out",
                     str(tmp_path / "r.csv"))
    assert done.returncode == 0, done.stderr
    assert "percentile" in done.stdout and "kept your own rating on 1" in done.stdout
    assert read_rating(manual) == 5
    with open(tmp_path / "r.csv", newline="") as handle:
        by_path = {r["path"]: r for r in csv.DictReader(handle)}
    for path in paths[1:]:
        stars = read_rating(path.with_name(path.name + ".xmp"))
        percentile = float(by_path[str(path)]["score_percentile"])
        assert stars == (5 if percentile >= 90 else 4 if percentile >= 70 else
                         3 if percentile >= 30 else 2 if percentile >= 10 else 1)
    assert [(p.read_bytes(), p.stat().st_mtime_ns) for p in paths] == before


def test_score_folder_owns_the_photos_the_cache_and_the_stars(installed, tmp_path):
    """What both shells call: the photos and models are announced before scoring, the
    shared results cache answers a second run, and stars go into the sidecars."""
    from critique_app.core.folder_scoring.folder import (
        results_cache_path,
        rows_to_rate,
        score_folder,
        write_star_ratings,
    )
    from critique_app.core.util.errors import Cancelled

    paths = _shoot(tmp_path / "shoot", 3)
    seen, done = [], []
    result = score_folder(tmp_path / "shoot", runtime="torch",
                          started=lambda photos, scorers: seen.append((photos, scorers)),
                          progress=lambda d, total, counts: done.append((d, total)))
    assert seen and seen[0][0] == paths and not seen[0][1].missing
    assert result.computed == 3 and done[-1] == (3, 3) and result.scores_missing is None
    assert results_cache_path().is_file()
    assert score_folder(tmp_path / "shoot", runtime="torch").cached == 3

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        score_folder(tmp_path / "shoot", runtime="torch", cancel=cancel)

    rows = [*result.rows, {"path": str(tmp_path / "x.jpg"), "status": "error"}]
    assert rows_to_rate(rows) == result.rows
    report = write_star_ratings(rows, rating_from="mean")
    assert (report.rated, report.written, report.kept, report.failed) == (3, 3, 0, [])
    for row in result.rows:
        assert read_rating(Path(row["path"] + ".xmp")) == stars_from_mean(row["score_mean"])
    with pytest.raises(ValueError):
        write_star_ratings(rows, rating_from="median")


def test_percentiles_count_ties_half():
    rows = [{"score_mean": m} for m in (5.0, 6.0, 6.0, 7.0)] + [{"score_mean": None}]
    add_percentiles(rows)
    assert [r.get("score_percentile") for r in rows] == [0.0, 50.0, 50.0, 100.0, None]


def test_find_photos_filters_and_recurses(tmp_path):
    _shoot(tmp_path / "a", 2)
    _shoot(tmp_path / "a" / "b", 1)
    (tmp_path / "a" / "x.txt").write_text("x")
    (tmp_path / "a" / ".hidden.jpg").write_bytes(PHOTOS["rocket"].read_bytes())
    assert len(find_photos(tmp_path / "a")) == 2
    assert len(find_photos(tmp_path / "a", recursive=True)) == 3


def test_find_photos_one_rule_hidden_case_and_order(tmp_path):
    """Any case of extension; hidden files and folders skipped; the folder's own photos
    first, then each subfolder's, by name; links to folders not followed."""
    for name in ("b.JPG", "a.nef", "c.txt", ".hidden.jpg", "sub/x.Png", "sub/.y.jpg",
                 ".cache/z.jpg", "a-sub/w.tif"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "looks-like.jpg").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "sub", target_is_directory=True)
    names = [p.relative_to(tmp_path).as_posix() for p in find_photos(tmp_path, recursive=True)]
    assert names == ["a.nef", "b.JPG", "a-sub/w.tif", "sub/x.Png"]
    assert [p.name for p in find_photos(tmp_path)] == ["a.nef", "b.JPG"]
    with pytest.raises(CritiqueError, match="is not a folder"):
        find_photos(tmp_path / "b.JPG")


def test_the_dialog_filter_lists_every_photo_extension():
    text = dialog_filter()
    assert text.startswith("Photos (*.") and text.endswith(");;All files (*)")
    patterns = text.removeprefix("Photos (").split(")")[0].split()
    assert {p.removeprefix("*") for p in patterns} == PHOTO_EXTENSIONS
    assert "*.jpg" in patterns and "*.nef" in patterns


def test_columns_are_documented():
    assert (REPO / "docs" / "score-columns.md").read_text(encoding="utf-8") == markdown()


@pytest.fixture(scope="module")
def depth_scorer(tmp_path_factory):
    """A trained (tiny) score model of the depth modality."""
    return save_tiny_scorer(tmp_path_factory.mktemp("depth-scorer") / "tiny-depth-score",
                            name="tiny-depth-score", modality="depth", steps=5)


@pytest.mark.slow
def test_critique_score_computes_depth_for_a_depth_scorer(installed, depth_scorer, tmp_path,
                                                          monkeypatch):
    """With a depth score model installed, every photo gets a depth score once a depth
    model is there; before, the CLI says why the column is empty, and installing the
    depth model later is not answered from the cache."""
    ModelStore().import_dir(depth_scorer, report=lambda _: None)
    _shoot(tmp_path / "shoot", 3)
    out = tmp_path / "r.csv"

    without = _critique("score", str(tmp_path / "shoot"), "--out", str(out))
    assert without.returncode == 0, without.stderr
    assert "depth scores left empty: no depth model is installed" in without.stderr
    with open(out, newline="") as handle:
        assert all(r["status"] == "ok" and not r["depth_score"] for r in csv.DictReader(handle))

    monkeypatch.setenv("CRITIQUE_DEPTH_MODEL",
                       str(save_tiny_depth_model(tmp_path / "depth-model")))
    with_depth = _critique("score", str(tmp_path / "shoot"), "--out", str(out), "--jobs", "2")
    assert with_depth.returncode == 0, with_depth.stderr
    assert "0 cached, 3 computed" in with_depth.stdout
    assert "depth scores left empty" not in with_depth.stderr
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 and all(1 <= float(r["depth_score"]) <= 10 for r in rows), rows


def test_an_internal_error_on_one_photo_is_logged_with_its_traceback(tmp_path, monkeypatch,
                                                                      caplog):
    """A bug hit by one photo is written to its row and the log (with the traceback),
    and the other photos are scored."""
    from critique_app.core.folder_scoring import runner
    from critique_app.core.scoring.scorer import ScorerSet

    paths = _shoot(tmp_path / "shoot", 3)
    real_analyze = runner.analyze

    def analyze(photo, **kwargs):
        if photo.path == paths[1]:
            raise ZeroDivisionError("a bug in one step")
        return real_analyze(photo, **kwargs)

    monkeypatch.setattr(runner, "analyze", analyze)
    with caplog.at_level("ERROR", logger="critique.folder_scoring"), \
            ResultsCache(tmp_path / "cache.sqlite") as cache:
        result = score_photos(paths, cache=cache, scorers=ScorerSet({}), jobs=2)
    assert [row["status"] for row in result.rows] == ["ok", "error", "ok"]
    assert "internal error: ZeroDivisionError" in result.rows[1]["error"]
    logged = [r for r in caplog.records if r.name == "critique.folder_scoring"]
    assert len(logged) == 1 and str(paths[1]) in logged[0].getMessage()
    assert logged[0].exc_info and logged[0].exc_info[0] is ZeroDivisionError


def test_a_score_model_failing_on_one_batch_is_recorded_and_the_run_goes_on(installed, tmp_path,
                                                                            caplog):
    """The model raising on one batch (out of memory, a corrupt ONNX file found late)
    marks that batch's photos as errors, logs it, scores the other batches, and caches
    nothing for the failed ones, so a rerun scores them."""
    paths = _shoot(tmp_path / "shoot", 4)
    scorers = find_scorers(runtime="torch")
    scorer = scorers.by_modality["photo"]
    real_score, batches = scorer.score, []

    def fails_on_the_second_batch(batch):
        batches.append(len(batch))
        if len(batches) == 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 3.00 GiB")
        return real_score(batch)

    scorer.score = fails_on_the_second_batch
    with caplog.at_level("ERROR", logger="critique.folder_scoring"), \
            ResultsCache(tmp_path / "cache.sqlite") as cache:
        result = score_photos(paths, cache=cache, scorers=scorers, jobs=1, batch_size=2)
    statuses = [row["status"] for row in result.rows]
    assert sorted(statuses) == ["error", "error", "ok", "ok"]
    failed = [row for row in result.rows if row["status"] == "error"]
    assert all("the score model failed: RuntimeError: CUDA out of memory" in row["error"]
               for row in failed)
    assert any("failed on a batch of 2 photos" in r.getMessage() for r in caplog.records)

    scorer.score = real_score
    with ResultsCache(tmp_path / "cache.sqlite") as cache:
        again = score_photos(paths, cache=cache, scorers=scorers, jobs=1, batch_size=2)
    assert [row["status"] for row in again.rows] == ["ok"] * 4
    assert again.computed == 2  # only the two that failed


class _MeanOnlyScorer:
    """A stand-in for a mean-only model (LAION aesthetic v2): one number per photo, from
    its brightness, so the percentiles have something real to order."""

    output, title, version = "mean", "mean-only stand-in", "mean-only:test"

    def __init__(self) -> None:
        from critique_app.core.scoring.backbone import InputSpec
        from critique_app.core.scoring.pretrained.scorer import PretrainedInfo

        self.info = PretrainedInfo("mean-only", "test", InputSpec(32, resize="crop"), Path("."))
        self.modality = "photo"

    def score(self, batch):
        from critique_app.core.scoring.distribution import ScoreDistribution

        return [ScoreDistribution.from_mean(5.0 + float(b.mean()), model=self.title)
                for b in batch]

    def describe_device(self) -> str:
        return "CPU, 2 cores"


def test_a_mean_only_model_leaves_spread_and_bins_empty(tmp_path):
    from critique_app.core.folder_scoring.output import write_results
    from critique_app.core.scoring.scorer import ScorerSet
    from critique_app.core.scoring.speed import read_speed

    paths = _shoot(tmp_path / "shoot", 8)
    scorers = ScorerSet({"photo": _MeanOnlyScorer()})
    with ResultsCache(tmp_path / "cache.sqlite") as cache:
        result = score_photos(paths, cache=cache, scorers=scorers, jobs=2, batch_size=4)
        again = score_photos(paths, cache=cache, scorers=scorers, jobs=2, batch_size=4)
    for rows in (result.rows, again.rows):
        assert all(r["status"] == "ok" and r["score_mean"] is not None for r in rows)
        assert all(r["score_std"] is None and r["p1"] is None and r["p10"] is None for r in rows)
        assert sorted(r["score_percentile"] for r in rows) == pytest.approx(
            [100 * i / 7 for i in range(8)], abs=0.1)
    assert again.cached == 8
    with open(write_results(result.rows, tmp_path / "r.csv"), newline="") as handle:
        written = list(csv.DictReader(handle))
    assert all(r["score_std"] == "" and r["p5"] == "" and r["score_mean"] for r in written)
    assert read_speed("mean-only").endswith(tuple("0123456789"))  # 8 photos: measured
    assert "a photo on CPU, 2 cores, measured" in read_speed("mean-only")
