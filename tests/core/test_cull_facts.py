"""Frame facts for culling: EXIF times, hashes, face sharpness, and the cached cull run."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from critique_app.core.culling.face_decode import decode_for_faces
from critique_app.core.culling.facts import face_sharpness, frame_facts, phash_distance
from critique_app.core.culling.runner import FrameFacts, cull_photos
from critique_app.core.folder_scoring.runner import score_photos
from critique_app.core.library.results_cache import ResultsCache
from critique_app.core.photo import load_photo
from critique_app.core.scoring.scorer import ScorerSet, find_scorers
from tests.helpers.photos import load_rgb

NO_SCORER = ScorerSet({})
ASTRONAUT_FACE = (176, 66, 271, 161)  # x0, y0, x1, y1 in the 512 px photo (OpenCV's Haar)


def _exif(when: str | None, subsec: str | None = None, bias: float | None = None,
          serial: str | None = None, orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS R6"
    if orientation:
        exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    if when:
        sub[0x9003] = when
    if subsec:
        sub[0x9291] = subsec
    if bias is not None:
        sub[0x9204] = bias
    if serial:
        sub[0xA431] = serial
    return exif


def _facts(path: Path, **kwargs) -> dict:
    return frame_facts(load_photo(path, max_side=720), path, **kwargs)


def _no_faces() -> FrameFacts:
    from critique_app.core.culling.facts import FaceSetup

    return FrameFacts(face_setup=FaceSetup(None, None, "faces-none"))


def test_exif_capture_time_has_its_subseconds_bias_and_body(tmp_path):
    rgb = load_rgb("coffee")
    first, second = tmp_path / "a.jpg", tmp_path / "b.jpg"
    Image.fromarray(rgb).save(first, exif=_exif("2024:06:01 18:30:05", "25", -2 / 3, "0421"))
    Image.fromarray(rgb).save(second, exif=_exif("2024:06:01 18:30:05", "6", 1.0, "0421"))
    a = _facts(first, face_setup=_no_faces().face_setup)
    b = _facts(second, face_setup=_no_faces().face_setup)
    expected = (datetime(2024, 6, 1, 18, 30, 5) - datetime(1970, 1, 1)).total_seconds()
    assert a["exif_time"] == pytest.approx(expected + 0.25)
    assert b["exif_time"] - a["exif_time"] == pytest.approx(0.35)  # "6" is 0.6 s
    assert a["exposure_bias_ev"] == pytest.approx(-0.67) and b["exposure_bias_ev"] == 1.0
    assert a["camera"] == "Canon EOS R6 #0421"
    assert (a["width"], a["height"]) == (rgb.shape[1], rgb.shape[0])


def test_stripped_metadata_leaves_only_the_file_time(tmp_path):
    path = tmp_path / "copy.jpg"
    Image.fromarray(load_rgb("coffee")).save(path)
    facts = _facts(path, face_setup=_no_faces().face_setup)
    assert facts["exif_time"] is None and facts["camera"] is None
    assert facts["exposure_bias_ev"] is None
    assert facts["file_time"] == pytest.approx(path.stat().st_mtime, abs=0.01)


def test_a_shifted_copy_hashes_near_and_a_different_photo_far(tmp_path):
    rgb = load_rgb("chelsea")
    shift = round(0.02 * rgb.shape[1])
    paths = {}
    for name, pixels in [("a", rgb[:, shift:]), ("b", rgb[:, :-shift]),
                         ("other", load_rgb("coffee"))]:
        paths[name] = tmp_path / f"{name}.jpg"
        Image.fromarray(np.ascontiguousarray(pixels)).save(paths[name], quality=90)
    a, b, other = (_facts(p, face_setup=_no_faces().face_setup) for p in paths.values())
    assert len(a["phash"]) == 16 and len(a["colour"]) == 42 and len(a["thumb"]) == 256
    assert phash_distance(a["phash"], b["phash"]) <= 12  # 3-11 over the test photos
    assert phash_distance(a["phash"], other["phash"]) >= 24  # 30-38 between them
    near, far = np.dot(a["thumb"], b["thumb"]), np.dot(a["thumb"], other["thumb"])
    assert near > 0.9 > far


def test_a_defocused_frame_is_less_sharp_everywhere(tmp_path):
    rgb = load_rgb("rocket")
    sharp, soft = tmp_path / "sharp.jpg", tmp_path / "soft.jpg"
    Image.fromarray(rgb).save(sharp, quality=92)
    Image.fromarray(cv2.GaussianBlur(rgb, (0, 0), 2.0)).save(soft, quality=92)
    a = _facts(sharp, face_setup=_no_faces().face_setup)["sharpness"]
    b = _facts(soft, face_setup=_no_faces().face_setup)["sharpness"]
    assert len(a["grid"]) == 9 and a["global"] > 0
    # a sigma-2 defocus leaves ~0.05 of the Laplacian/gradient energy ratio here
    assert b["global"] < 0.3 * a["global"] and b["subject"] < 0.3 * a["subject"]


def _big_astronaut(path: Path, sigma: float = 0.0, orientation: int | None = None) -> Path:
    """The astronaut as a 3072 px JPEG (as a camera would write it: the 720 px analysis
    image is a 1/4-scale draft), optionally defocused at full size."""
    rgb = cv2.resize(load_rgb("astronaut"), (3072, 3072), interpolation=cv2.INTER_CUBIC)
    # a little fine texture, as a real full-size face has, for the blur to take away
    noise = np.random.default_rng(0).normal(0, 6, rgb.shape[:2])[..., None]
    rgb = np.clip(rgb + noise, 0, 255).astype(np.uint8)
    if sigma:
        rgb = cv2.GaussianBlur(rgb, (0, 0), sigma)
    stored = rgb
    if orientation == 6:  # stored turned 90° anticlockwise; EXIF says turn it clockwise
        stored = np.ascontiguousarray(np.rot90(rgb, k=1))
    Image.fromarray(stored).save(path, quality=92,
                                 exif=_exif(None, orientation=orientation) if orientation
                                 else Image.Exif())
    return path


@pytest.mark.slow
def test_face_sharpness_is_measured_near_160_px_and_tells_blur(tmp_path):
    sharp = load_photo(_big_astronaut(tmp_path / "sharp.jpg"), max_side=720)
    soft = load_photo(_big_astronaut(tmp_path / "soft.jpg", sigma=3.0), max_side=720)
    box = [tuple(v * 720 / 512 for v in ASTRONAUT_FACE)]  # 134 px wide at 720
    (a, a_px), = face_sharpness(sharp, sharp.path, box, sharp.to_uint8()[..., 1])
    (b, b_px), = face_sharpness(soft, soft.path, box, soft.to_uint8()[..., 1])
    assert a_px >= 160 and a_px == b_px  # decoded again at 1/2 scale: 134 px -> 535 px
    assert a > b + 0.1


@pytest.mark.slow
def test_the_partial_decode_matches_a_full_decode_where_the_faces_are(tmp_path):
    for orientation in (None, 6):
        path = _big_astronaut(tmp_path / f"o{orientation}.jpg", orientation=orientation)
        box = [(0.3, 0.1, 0.55, 0.35)]
        partial = decode_for_faces(path, 0.5, box)
        with Image.open(path) as image:
            image.draft("L", (image.size[0] // 2, image.size[1] // 2))
            full = np.asarray(image.convert("L"))
        if orientation == 6:
            full = np.rot90(full, k=-1)
        assert partial.shape == full.shape == (1536, 1536)
        rows, cols = slice(150, 540), slice(460, 845)
        assert np.array_equal(partial[rows, cols], full[rows, cols])


@pytest.mark.slow
def test_faces_are_found_and_measured_by_the_face_reader(tmp_path):
    faces = pytest.importorskip("critique_app.core.faces")
    if not hasattr(faces, "read_faces"):
        pytest.skip("critique_app.core.faces.read_faces is not written yet")
    sharp = _big_astronaut(tmp_path / "sharp.jpg")
    soft = _big_astronaut(tmp_path / "soft.jpg", sigma=3.0)
    step = FrameFacts(face_models=None)  # OpenCV's Haar cascades: no models needed
    a, b = (step.compute(load_photo(p, max_side=720), p, None)["faces"] for p in (sharp, soft))
    assert a["method"] == "haar" and "Haar" in a["note"]
    assert len(a["faces"]) == 1 and len(b["faces"]) >= 1
    face = a["faces"][0]
    x0, y0, x1, y1 = face["box"]
    assert 0.3 < x0 < x1 < 0.6 and 0.05 < y0 < y1 < 0.4  # the astronaut's face
    assert face["sharpness_px"] >= 160
    assert face["sharpness"] > b["faces"][0]["sharpness"] + 0.1


def _shoot(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    names = ["chelsea", "coffee", "rocket", "china"]
    paths = []
    for i in range(count):
        rgb = load_rgb(names[i % len(names)])[i % 5 * 4:, i % 3 * 4:]
        paths.append(folder / f"IMG_{i:04d}.jpg")
        Image.fromarray(np.ascontiguousarray(rgb)).save(
            paths[-1], quality=85, exif=_exif(f"2024:06:01 18:30:{i:02d}", "5"))
    return paths


@pytest.mark.slow
def test_a_second_cull_is_served_from_the_cache_and_a_corrupt_file_is_one_error(tmp_path):
    paths = _shoot(tmp_path / "shoot", 5)
    bad = tmp_path / "shoot" / "cut.jpg"
    bad.write_bytes(paths[0].read_bytes()[:400])
    paths.insert(2, bad)
    with ResultsCache(tmp_path / "cache.sqlite") as cache:
        first = cull_photos(paths, cache=cache, scorers=NO_SCORER, step=_no_faces())
        second = cull_photos(paths, cache=cache, scorers=NO_SCORER, step=_no_faces())
    assert (first.computed, first.cached, first.failed) == (5, 0, 1)
    assert (second.computed, second.cached, second.failed) == (0, 5, 1)
    assert first.errors[2] and "truncated" in first.errors[2] and first.facts[2] is None
    assert [e is None for e in first.errors] == [True, True, False, True, True, True]
    assert first.facts == second.facts
    assert first.facts[0]["exif_time"] + 3 == pytest.approx(first.facts[4]["exif_time"])


@pytest.mark.slow
def test_cancel_keeps_what_is_done_and_the_rerun_computes_only_the_rest(tmp_path):
    paths = _shoot(tmp_path / "shoot", 8)
    cancel = threading.Event()

    def stop_after_the_first_batch(done, total, counts):
        if counts["computed"] >= 2:
            cancel.set()

    with ResultsCache(tmp_path / "cache.sqlite") as cache:
        first = cull_photos(paths, cache=cache, scorers=NO_SCORER, jobs=1, batch_size=2,
                            cancel=cancel, progress=stop_after_the_first_batch,
                            step=_no_faces())
        assert first.cancelled and 2 <= first.computed < 8
        assert sum(f is not None for f in first.facts) == first.computed
        second = cull_photos(paths, cache=cache, scorers=NO_SCORER, jobs=1, batch_size=2,
                             step=_no_faces())
    assert second.cached == first.computed and second.computed == 8 - first.computed
    assert not second.cancelled and all(f is not None for f in second.facts)


@pytest.mark.slow
def test_cull_shares_score_rows_and_decodes_once_for_missing_facts(installed, tmp_path,
                                                                   monkeypatch):
    """A folder scored before: the cull reuses its score rows and decodes each photo once
    for the facts alone (no analysis); the scores land in the facts."""
    from critique_app.core.folder_scoring import runner

    paths = _shoot(tmp_path / "shoot", 4)
    scorers = find_scorers(runtime="torch")
    with ResultsCache(tmp_path / "cache.sqlite") as cache:
        scored = score_photos(paths, cache=cache, scorers=scorers)
        analysed = []
        real = runner.analyze
        monkeypatch.setattr(runner, "analyze", lambda *a, **k: analysed.append(1) or real(*a, **k))
        culled = cull_photos(paths, cache=cache, scorers=scorers, step=_no_faces())
        again = score_photos(paths, cache=cache, scorers=scorers)
    assert not analysed and culled.computed == 4 and culled.cached == 0
    assert [f["score"] for f in culled.facts] == [r["score_mean"] for r in scored.rows]
    assert all(f["score"] is not None for f in culled.facts)
    assert again.cached == 4 and again.computed == 0



@pytest.mark.slow
def test_a_cull_of_an_unscored_folder_is_lean_and_its_rerun_decodes_nothing(
        installed, tmp_path, monkeypatch):
    """Culling never reads the measurement columns: photos with no score row are not
    analysed and get none; the photo model's score (the one scoring gives) is in the facts,
    and a second cull decodes nothing."""
    from critique_app.core.folder_scoring import runner

    paths = _shoot(tmp_path / "shoot", 4)
    scorers = find_scorers(runtime="torch")
    analysed, decoded = [], []
    real_analyze, real_load = runner.analyze, runner.load_photo
    monkeypatch.setattr(runner, "analyze", lambda *a, **k: analysed.append(1) or
                        real_analyze(*a, **k))
    monkeypatch.setattr(runner, "load_photo", lambda *a, **k: decoded.append(1) or
                        real_load(*a, **k))
    with ResultsCache(tmp_path / "cache.sqlite") as cache:
        culled = cull_photos(paths, cache=cache, scorers=scorers, step=_no_faces())
        assert not analysed and len(decoded) == 4
        again = cull_photos(paths, cache=cache, scorers=scorers, step=_no_faces())
        assert len(decoded) == 4  # all from the cache
        scored = score_photos(paths, cache=cache, scorers=scorers)
    assert (culled.computed, again.cached, again.computed) == (4, 4, 0)
    assert scored.computed == 4  # no score row was stored by the cull
    assert [f["score"] for f in culled.facts] == [r["score_mean"] for r in scored.rows]
    assert [f["score"] for f in again.facts] == [f["score"] for f in culled.facts]
    assert all(f["score"] is not None for f in culled.facts)


@pytest.mark.slow
def test_a_score_model_failing_in_a_lean_cull_costs_that_batch_and_a_rerun_mends_it(
        installed, tmp_path):
    paths = _shoot(tmp_path / "shoot", 4)
    scorers = find_scorers(runtime="torch")
    scorer = scorers.photo
    calls = []

    def failing(real):
        def run(batch):
            calls.append(len(batch))
            if len(calls) == 2:
                raise RuntimeError("CUDA out of memory. Tried to allocate 3.00 GiB")
            return real(batch)
        return run

    real = {name: getattr(scorer, name) for name in ("score", "score_and_embed")
            if hasattr(scorer, name)}
    for name, method in real.items():
        setattr(scorer, name, failing(method))
    with ResultsCache(tmp_path / "cache.sqlite") as cache:
        culled = cull_photos(paths, cache=cache, scorers=scorers, jobs=1, batch_size=2,
                             step=_no_faces())
        for name, method in real.items():
            setattr(scorer, name, method)
        again = cull_photos(paths, cache=cache, scorers=scorers, jobs=1, batch_size=2,
                            step=_no_faces())
    failed = [e for e in culled.errors if e]
    assert len(failed) == 2 and all("the score model failed: RuntimeError" in e for e in failed)
    assert sum(f is not None for f in culled.facts) == 2
    assert (again.cached, again.computed, again.failed) == (2, 2, 0)
    assert all(f is not None and f["score"] is not None for f in again.facts)


def test_a_bug_in_the_frame_facts_costs_the_facts_not_the_photo(tmp_path, caplog):
    paths = _shoot(tmp_path / "shoot", 2)

    class Broken(FrameFacts):
        def compute(self, photo, path, measured):
            if path == paths[1]:
                raise ZeroDivisionError("a bug in one step")
            return super().compute(photo, path, measured)

    step = _no_faces()
    broken = Broken(face_setup=step.face_setup)
    with caplog.at_level("ERROR", logger="critique.folder_scoring"), \
            ResultsCache(tmp_path / "cache.sqlite") as cache:
        culled = cull_photos(paths, cache=cache, scorers=NO_SCORER, step=broken)
        again = cull_photos(paths, cache=cache, scorers=NO_SCORER, step=step)
    assert culled.facts[0] is not None and culled.facts[1] is None
    assert "frame facts could not be read: internal error: ZeroDivisionError" in culled.errors[1]
    assert any(str(paths[1]) in r.getMessage() for r in caplog.records)
    # the rerun makes only the missing facts
    assert again.cached == 1 and again.computed == 1 and again.failed == 0
