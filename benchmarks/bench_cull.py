"""Culling a shoot vs. scoring it: `critique cull` against `critique score`, same run.

Builds a shoot of 24 MP JPEGs with faces (skimage's astronaut and matplotlib's Grace
Hopper, upscaled with film grain, framed a little differently per burst), as bursts of
``--burst`` frames 0.3 s apart with camera-like EXIF, scenes two minutes apart. Every
frame's bytes differ (its EXIF block), so nothing is a cache hit. Then, each with an
empty results cache and the same score model (EfficientNet-Lite0, ImageNet weights if
installed), it times

  (a) critique score: ``score_photos``, ``--jobs`` decode threads;
  (b) critique cull: ``cull_folder`` (the same decode and score model, frame facts, faces
      and eyes, grouping and ranking; not the measurement columns, which culling never
      reads);

and prints both and their ratio. Target: (b) <= 1.25 x (a) on 2 CPU cores. The face
models are MediaPipe's when installed (``critique models pull mediapipe-face``, or the
wheel in .cache/test-wheels from ``scripts/fetch_test_wheels.py``), else OpenCV's Haar
cascades; the output says which. ``--memory N`` culls N frames in one run and prints
resident memory as it goes, to show it stays flat.

    python benchmarks/bench_cull.py [--photos 1000] [--jobs 2] [--memory 2000] [--scorer none]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from bench_score import MemorySamples, build_model

from critique_app.core.culling.cull import cull_folder
from critique_app.core.faces import STORE_NAME
from critique_app.core.folder_scoring.runner import score_photos
from critique_app.core.library.results_cache import ResultsCache
from critique_app.core.scoring.scorer import Scorer, ScorerSet
from critique_app.core.store.store import ModelStore
from critique_app.core.util.errors import CritiqueError

REPO = Path(__file__).resolve().parents[1]
WHEELS = REPO / ".cache" / "test-wheels"
WIDTH, HEIGHT = 6000, 4000


def face_photos() -> list[np.ndarray]:
    from skimage import data

    faces = [data.astronaut()]
    import matplotlib

    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if hopper.is_file():
        with Image.open(hopper) as image:
            faces.append(np.asarray(image.convert("RGB")))
    return faces


def base_frames(folder: Path, count: int) -> list[bytes]:
    """``count`` distinct 24 MP JPEGs (no EXIF): a face photo cropped differently each time,
    upscaled, with grain so they decode like camera files."""
    rng = np.random.default_rng(0)
    sources = face_photos()
    frames = []
    for i in range(count):
        source = sources[i % len(sources)]
        h, w = source.shape[:2]
        dx, dy = (rng.integers(0, max(1, w // 10)), rng.integers(0, max(1, h // 10)))
        crop = Image.fromarray(source[dy:dy + h * 9 // 10, dx:dx + w * 9 // 10])
        big = np.asarray(crop.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC), np.int16)
        big = np.clip(big + rng.normal(0, 6.0, big.shape).astype(np.int16), 0, 255)
        path = folder / f"base-{i}.jpg"
        Image.fromarray(big.astype(np.uint8)).save(path, quality=92)
        frames.append(path.read_bytes())
        path.unlink()
    return frames


def exif_block(when: dt.datetime) -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "BenchCam", "Model 1"
    inner = exif.get_ifd(0x8769)
    inner[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
    inner[0x9291] = f"{when.microsecond // 10000:02d}"
    data = exif.tobytes()
    return b"\xff\xe1" + (len(data) + 2).to_bytes(2, "big") + data


def make_shoot(folder: Path, photos: int, burst: int, bases: list[bytes]) -> list[Path]:
    """Bursts of ``burst`` frames 0.3 s apart, scenes 2 minutes apart; each file is a base
    JPEG with its own EXIF block spliced in after the start-of-image marker."""
    folder.mkdir(parents=True, exist_ok=True)
    start = dt.datetime(2026, 6, 20, 14, 0, 0)
    paths = []
    for i in range(photos):
        scene, frame = divmod(i, burst)
        when = start + dt.timedelta(minutes=2 * scene, seconds=0.3 * frame)
        base = bases[scene % len(bases)]
        path = folder / f"IMG_{i:05d}.jpg"
        path.write_bytes(base[:2] + exif_block(when) + base[2:])
        paths.append(path)
    return paths


def face_setup(home: Path) -> str:
    """Make the face models findable: the user's store if it has them, else pulled from
    the local wheel folder into a throw-away store. Returns what was used, in words."""
    try:
        ModelStore().require(STORE_NAME)
        return "MediaPipe face models (installed)"
    except CritiqueError:
        pass
    if not any(WHEELS.glob("mediapipe-*.whl")):
        return "OpenCV Haar cascades (MediaPipe face models not installed)"
    os.environ["CRITIQUE_HOME"] = str(home)
    saved = {k: os.environ.get(k) for k in ("PIP_NO_INDEX", "PIP_FIND_LINKS")}
    os.environ.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(WHEELS))
    try:
        ModelStore().pull(STORE_NAME, report=lambda _: None, show_progress=False)
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    return "MediaPipe face models (pulled from .cache/test-wheels)"


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def score_run(paths, scorers, jobs, cache_path) -> float:
    cache_path.unlink(missing_ok=True)
    with ResultsCache(cache_path) as cache:
        return timed(lambda: score_photos(paths, cache=cache, scorers=scorers, jobs=jobs))


def cull_run(paths, scorers, jobs, cache_path, progress=None) -> tuple[float, object]:
    cache_path.unlink(missing_ok=True)
    out = {}
    with ResultsCache(cache_path) as cache:
        seconds = timed(lambda: out.setdefault("r", cull_folder(
            paths, cache=cache, scorers=scorers, jobs=jobs, progress=progress)))
        again = timed(lambda: cull_folder(paths, cache=cache, scorers=scorers, jobs=jobs))
    out["r"].notes.append(f"second run (all cached): {again:.2f} s")
    return seconds, out["r"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=5, help="frames per burst")
    parser.add_argument("--bases", type=int, default=12, help="distinct 24 MP frames to build")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--memory", type=int, default=0, help="frames for the memory check")
    parser.add_argument("--scorer", choices=("lite0", "none"), default="lite0",
                        help="score with an EfficientNet-Lite0 model (as a culling user would), "
                             "or with no score model installed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        faces = face_setup(tmp / "home")
        print(f"building {args.bases} distinct 24 MP frames with faces ...", flush=True)
        bases = base_frames(tmp, args.bases)
        paths = make_shoot(tmp / "shoot", args.photos, args.burst, bases)
        size_mb = sum(p.stat().st_size for p in paths) / 2**20
        for path in paths:  # into the page cache: both runs read warm files
            path.read_bytes()
        if args.scorer == "lite0":
            scorer = Scorer(build_model(tmp / "model"), runtime="onnx", device="auto")
            scorers = ScorerSet({"photo": scorer})
        else:
            scorers = ScorerSet({}, missing="no score model (benchmark)")
        score_run(paths[:4], scorers, args.jobs, tmp / "warm-a.sqlite")  # first-call set-up
        cull_run(paths[:4], scorers, args.jobs, tmp / "warm-b.sqlite")
        a = score_run(paths, scorers, args.jobs, tmp / "score.sqlite")
        b, result = cull_run(paths, scorers, args.jobs, tmp / "cull.sqlite")
        print(f"{len(paths)} photos of 24 MP ({size_mb / len(paths):.1f} MB each), "
              f"{args.jobs} decode threads, {os.cpu_count()} CPUs; faces: {faces}; "
              f"score model: {args.scorer}")
        print(f"cull found {len(result.groups)} groups, face method {result.face_method}; "
              + "; ".join(result.notes))
        print(f"(a) critique score: {a:7.1f} s ({1000 * a / len(paths):5.0f} ms/photo)")
        print(f"(b) critique cull:  {b:7.1f} s ({1000 * b / len(paths):5.0f} ms/photo)")
        verdict = "meets" if b / a <= 1.25 else "MISSES"
        print(f"ratio (b)/(a) = {b / a:.2f} -> {verdict} the <= 1.25x target")
        if args.memory:
            memory_check(tmp, args, bases, scorers)


def memory_check(tmp: Path, args, bases: list[bytes], scorers: ScorerSet) -> None:
    paths = make_shoot(tmp / "many", args.memory, args.burst, bases)
    memory = MemorySamples(len(paths), "frames", "culled")
    cull_run(paths, scorers, args.jobs, tmp / "memory.sqlite", memory.progress)
    memory.print_summary()


if __name__ == "__main__":
    main()
