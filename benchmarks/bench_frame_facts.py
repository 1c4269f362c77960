"""What culling's frame facts cost on top of ``critique score``: per part, and whole runs.

Makes 24 MP JPEGs with one face each (scikit-image's astronaut and matplotlib's
grace_hopper, upscaled onto a 6000x4000 frame, with film grain for a camera-like entropy),
then prints
  (1) the milliseconds of each part on one photo, one thread (median of 8);
  (2) score_photos vs cull_photos on the folder (fresh caches, --jobs threads), without a
      score model and with an EfficientNet-Lite0 score model (ONNX, random weights: speed
      does not depend on them), and the ratio (issue 18's target: cull <= 1.25x score).
Face models: the store's ``mediapipe-face`` when installed, or ``--face-models FOLDER``
holding the three .tflite files; else OpenCV's Haar cascades.

    python benchmarks/bench_frame_facts.py [--photos 12] [--jobs 2] [--face-models DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

from critique_app.core.analysis.analyzer import analyze
from critique_app.core.culling import facts as F
from critique_app.core.culling.runner import FrameFacts, cull_photos, find_face_models
from critique_app.core.folder_scoring.runner import score_photos
from critique_app.core.library.results_cache import ResultsCache, content_key
from critique_app.core.photo import load_photo
from critique_app.core.scoring.scorer import Scorer, ScorerSet


def make_photos(folder: Path, count: int) -> list[Path]:
    import matplotlib.cbook
    from skimage import data

    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as image:
        hopper = np.asarray(image.convert("RGB"))
    sources = [data.astronaut(), hopper]
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        source = sources[i % 2]
        height = min(4000, round(4000 * source.shape[0] / source.shape[1]))
        big = cv2.resize(source, (4000, round(4000 * source.shape[0] / source.shape[1])),
                         interpolation=cv2.INTER_CUBIC)[:height]
        frame = np.full((4000, 6000, 3), 90, np.int16)
        left = 600 + 40 * i
        frame[:height, left:left + 4000] = big
        frame += rng.normal(0, 6.0, frame.shape).astype(np.int16)
        path = folder / f"IMG_{i:04d}.jpg"
        Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8)).save(path, quality=92)
        paths.append(path)
    return paths


def median_ms(function, repeat: int = 8):
    result = function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000, result


def parts(path: Path, models) -> None:
    rows = []
    rows.append(("hash (SHA-256 of the file)", median_ms(lambda: content_key(path))[0]))
    ms, photo = median_ms(lambda: load_photo(path, max_side=720))
    rows.append(("decode to 720 px (JPEG draft)", ms))
    rows.append(("analyze (what score measures)",
                 median_ms(lambda: analyze(photo, depth=False))[0]))
    rgb8 = photo.to_uint8()
    grey = cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY)
    rows.append(("facts: uint8 + grey", median_ms(
        lambda: cv2.cvtColor(photo.to_uint8(), cv2.COLOR_RGB2GRAY))[0]))
    rows.append(("facts: pHash + colour moments + thumb", median_ms(
        lambda: (F.phash(grey), F.colour_moments(rgb8), F.thumb(grey)))[0]))
    rows.append(("facts: sharpness, global + 3x3", median_ms(lambda: F.frame_sharpness(grey))[0]))
    setup = F.face_setup_for(models)
    ms, reading = median_ms(lambda: setup.read(rgb8, setup.models))
    rows.append((f"faces: read_faces ({reading.method})", ms))
    boxes = [face.box for face in reading.faces]
    ms, measured = median_ms(lambda: F.face_sharpness(photo, path, boxes, grey))
    rows.append((f"faces: partial decode + sharpness {measured}", ms))
    columns = {"exposure_ev": 0.0, "highlights_clipped_pct": 0.0, "shadows_clipped_pct": 0.0}
    rows.append(("frame_facts in all (exposure reused)", median_ms(
        lambda: F.frame_facts(photo, path, face_setup=setup, measured=columns))[0]))
    for name, ms in rows:
        print(f"  {name:58s} {ms:7.1f} ms")


def runs(paths: list[Path], scorers: ScorerSet, step: FrameFacts, jobs: int, tmp: Path,
         label: str) -> None:
    times = {}
    for what in ("score", "cull", "score", "cull"):  # twice each, the second counts
        database = tmp / f"{what}-{time.monotonic_ns()}.sqlite"
        with ResultsCache(database) as cache:
            start = time.perf_counter()
            if what == "score":
                score_photos(paths, cache=cache, scorers=scorers, jobs=jobs)
            else:
                done = cull_photos(paths, cache=cache, scorers=scorers, jobs=jobs, step=step)
                assert done.computed == len(paths), done.errors
            times[what] = time.perf_counter() - start
    per = {k: v / len(paths) * 1000 for k, v in times.items()}
    print(f"  {label}: score {per['score']:.0f} ms/photo, cull {per['cull']:.0f} ms/photo, "
          f"ratio {times['cull'] / times['score']:.2f} (target <= 1.25)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--face-models", type=Path, default=None)
    args = parser.parse_args()
    if args.face_models:
        from critique_app.core.faces import FaceModels

        models = FaceModels(args.face_models)
    else:
        models = find_face_models()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "shoot").mkdir()
        paths = make_photos(tmp / "shoot", args.photos)
        print(f"{len(paths)} photos, 6000x4000, {paths[0].stat().st_size / 1e6:.1f} MB each")
        print("(1) one photo, one thread:")
        parts(paths[0], models)
        print(f"(2) whole runs, --jobs {args.jobs}, fresh caches:")
        step = FrameFacts(models)
        runs(paths, ScorerSet({}), step, args.jobs, tmp, "no score model")
        from bench_score import build_model

        scorer = Scorer(build_model(tmp / "model"), runtime="onnx", device="auto")
        runs(paths, ScorerSet({"photo": scorer}), step, args.jobs, tmp, "Lite0 score model")


if __name__ == "__main__":
    main()
