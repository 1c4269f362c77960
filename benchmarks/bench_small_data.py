"""Small data: `train score`'s two recipes on the same 400 rated photos and the same split.

The set is learnable and its right answer known: random crops of the real test photos
(tests/helpers/photos.py), each degraded by one of train/tasks/degradations.py's blur,
noise, exposure, contrast or saturation at a random severity s (15% left as they are) and
rated 9.5 - 7.5 s. Both recipes hold out the same photos (same --seed and --val-fraction).

Printed: held-out SRCC (with its 95% bootstrap interval) and seconds of
- `score --recipe finetune` (EfficientNet-Lite0, last two blocks and head, 10 epochs);
- `score --recipe frozen` (ridge on frozen Lite0 features): features computed, then again
  with the features cached;
- gradient-boosted trees (scikit-learn, when installed) on the same cached features, to
  see whether they would beat the ridge (5-fold CV on the training photos and held out);
- `personal` without --base on 300 of the photos rated with stars in XMP sidecars, with
  features cached (the issue's target: <= 30 s on 2 cores), and, with --compare-score, the
  time `critique score` takes for those 300 photos against the time their features took
  (benchmarks/bench_personal_features.py measures that alone, in one process, with the
  feature pass before and after it ran through ONNX Runtime).

    .venv/bin/python benchmarks/bench_small_data.py [--photos 400] [--epochs 10]
        [--work DIR] [--skip-finetune] [--compare-score]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = ("blur", "noise", "exposure", "contrast", "saturation")


def learnable_set(folder: Path, count: int, size: int = 224, seed: int = 0) -> Path:
    """``count`` degraded crops of the test photos and ratings.csv (image, score)."""
    from PIL import Image

    from tests.helpers.photos import PHOTOS
    from train.tasks.degradations import degrade

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = {}
    for name, path in PHOTOS.items():
        with Image.open(path) as image:
            photos[name] = np.asarray(image.convert("RGB"), np.float32) / 255.0
    names = sorted(photos)
    rows = []
    for index in range(count):
        name = names[index % len(names)]
        pixels = photos[name]
        side = int(rng.integers(int(0.55 * min(pixels.shape[:2])), min(pixels.shape[:2]) + 1))
        top = int(rng.integers(0, pixels.shape[0] - side + 1))
        left = int(rng.integers(0, pixels.shape[1] - side + 1))
        crop = Image.fromarray((pixels[top:top + side, left:left + side] * 255).astype(np.uint8))
        square = np.asarray(crop.resize((size, size), Image.Resampling.LANCZOS),
                            np.float32).transpose(2, 0, 1) / 255.0
        severity = 0.0 if rng.random() < 0.15 else float(rng.uniform(0.05, 1.0))
        kind = KINDS[int(rng.integers(len(KINDS)))]
        if severity:
            square = degrade(square, kind, severity, rng)
        file = folder / f"{index:04d}-{name}-{kind if severity else 'original'}.jpg"
        Image.fromarray((np.clip(square, 0, 1).transpose(1, 2, 0) * 255).round()
                        .astype(np.uint8)).save(file, quality=95)
        rows.append([file.name, f"{9.5 - 7.5 * severity:.3f}"])
    table = folder / "ratings.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "score"])
        writer.writerows(rows)
    return table


def stars_folder(table: Path, folder: Path, count: int) -> Path:
    """The first ``count`` photos as a photographer's folder, stars in XMP sidecars."""
    from critique_app.core.library.ratings import set_stars

    folder.mkdir(parents=True, exist_ok=True)
    with table.open() as handle:
        rows = list(csv.DictReader(handle))[:count]
    for row in rows:
        shutil.copy2(table.parent / row["image"], folder / row["image"])
        stars = int(np.clip(round(1 + 4 * (float(row["score"]) - 2.0) / 7.5), 1, 5))
        set_stars(folder / row["image"], stars)
    return folder


def train(*argv) -> tuple[dict, float]:
    """Run `python -m train ...` in this process; (metrics.json, seconds)."""
    from train.cli import main

    out = Path(argv[argv.index("--out") + 1])
    started = time.perf_counter()
    code = main([str(a) for a in argv])
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"train {' '.join(map(str, argv))} failed ({code})")
    return json.loads((out / "model" / "metrics.json").read_text()), seconds


def srcc_text(metrics: dict) -> str:
    m = metrics["metrics"]
    interval = (f" (95%: {m['srcc_low']:.2f} to {m['srcc_high']:.2f})"
                if "srcc_low" in m else "")
    return f"{m['srcc']:.3f}{interval}"


def boosted_trees(table: Path, cache_dir: Path, val_fraction: float, seed: int) -> str:
    """Gradient-boosted trees on the cached features: CV on the training photos, then
    held out; beside the ridge on the same numbers."""
    try:
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.model_selection import KFold, cross_val_predict
    except ImportError:
        return "scikit-learn is not installed: gradient-boosted trees not measured"
    from critique_app.core.store.store import ModelStore
    from train.data.formats import load_dataset
    from train.data.split import split_rows
    from train.metrics.scores import srcc
    from train.progress import Progress
    from train.tasks.embeddings import EmbeddingCache, embed_photos
    from train.tasks.frozen import fit_standardised_ridge, resolve_lite0_backbone
    from train.tasks.heads import means_of

    dataset = load_dataset(table, None, kind="score")
    backbone = resolve_lite0_backbone(ModelStore())
    cache = EmbeddingCache(cache_dir)
    try:
        embedded = embed_photos([r.image for r in dataset.rows], backbone, cache,
                                Progress(), make_embedder=lambda: None)
    finally:
        cache.close()
    train_rows, val_rows = split_rows(dataset.rows, val_fraction, seed)

    def xy(rows):
        return (np.stack([embedded.vectors[r.image] for r in rows]),
                means_of(np.asarray([r.distribution for r in rows])))

    x, y = xy(train_rows)
    xv, yv = xy(val_rows)
    ridge = fit_standardised_ridge(x, y, seed)
    ridge_val = srcc(xv @ ridge.weights + ridge.bias, yv)
    best = None
    started = time.perf_counter()
    for rate in (0.1,):
        for depth in (3,):
            model = HistGradientBoostingRegressor(learning_rate=rate, max_depth=depth,
                                                  max_iter=200, l2_regularization=1.0,
                                                  random_state=seed)
            folds = KFold(5, shuffle=True, random_state=seed)
            cv = srcc(cross_val_predict(model, x, y, cv=folds), y)
            if best is None or cv > best[0]:
                best = (cv, rate, depth)
    cv, rate, depth = best
    model = HistGradientBoostingRegressor(learning_rate=rate, max_depth=depth, max_iter=200,
                                          l2_regularization=1.0, random_state=seed).fit(x, y)
    held = srcc(model.predict(xv), yv)
    seconds = time.perf_counter() - started
    return (f"ridge: CV SRCC {ridge.cv_srcc:.3f}, held-out {ridge_val:.3f} | gradient-boosted "
            f"trees (rate {rate}, depth {depth}, 200 trees): CV SRCC {cv:.3f}, "
            f"held-out {held:.3f}, {seconds:.0f} s to choose and fit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=400)
    parser.add_argument("--personal-photos", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--skip-finetune", action="store_true")
    parser.add_argument("--compare-score", action="store_true")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-small-"))
    os.environ["CRITIQUE_HOME"] = str(work / "home")  # a store of its own
    from critique_app.core.scoring.backbone import LITE0_STORE_NAME
    from critique_app.core.store.store import ModelStore

    ModelStore().pull(LITE0_STORE_NAME, report=lambda _: None, show_progress=False)
    print(f"work folder {work}; CPU threads: {os.cpu_count()}, torch threads: "
          f"{__import__('torch').get_num_threads()}")
    table = work / "set" / "ratings.csv"
    if not table.is_file():
        learnable_set(table.parent, args.photos, seed=args.seed)
    cache = work / "embeddings"
    common = ["--data", table, "--val-fraction", args.val_fraction, "--seed", args.seed,
              "--profile", "cpu", "--progress", "none", "--embedding-cache", cache]
    shutil.rmtree(cache, ignore_errors=True)
    cold, cold_s = train("score", "--recipe", "frozen", "--out", work / "frozen-cold", *common)
    warm, warm_s = train("score", "--recipe", "frozen", "--out", work / "frozen", *common)
    embed_s = cold["embeddings"]["seconds"]
    print(f"{args.photos} photos, {cold['metrics']['n']} held out (seed {args.seed})")
    print(f"frozen (ridge on Lite0 features): held-out SRCC {srcc_text(warm)}; "
          f"{cold_s:.1f} s with features computed ({embed_s:.1f} s of them), "
          f"{warm_s:.1f} s with features cached")
    print(boosted_trees(table, cache, args.val_fraction, args.seed))
    if not args.skip_finetune:
        tuned, tuned_s = train("score", "--recipe", "finetune", "--backbone", "lite0",
                               "--epochs", args.epochs, "--out", work / "finetune", *common)
        print(f"finetune (Lite0, last:2, {args.epochs} epochs): held-out SRCC "
              f"{srcc_text(tuned)} (EMD {tuned['metrics'].get('emd', float('nan')):.3f}); "
              f"{tuned_s:.1f} s")
    mine = stars_folder(table, work / f"mine-{args.personal_photos}", args.personal_photos)
    personal, personal_s = train("personal", "--data", mine, "--out", work / "personal",
                                 "--profile", "cpu", "--progress", "none",
                                 "--embedding-cache", cache, "--seed", args.seed)
    m = personal["metrics"]
    print(f"personal, no --base, {args.personal_photos} photos rated in XMP, features cached: "
          f"{personal_s:.1f} s; held-out SRCC {srcc_text(personal)} on {m['n']} photos, "
          f"{m['ratings_used']} ratings learned from")
    if args.compare_score:
        critique = str(Path(sys.executable).with_name("critique"))
        subprocess.run([critique, "models", "import", str(work / "personal" / "model")],
                       check=True, capture_output=True)
        started = time.perf_counter()
        subprocess.run([critique, "score", str(mine), "--out", str(work / "scores.csv")],
                       check=True, capture_output=True)
        score_s = time.perf_counter() - started
        fresh = fresh_feature_seconds(mine, work)
        print(f"features of those {args.personal_photos} photos, computed afresh: "
              f"{fresh:.1f} s; `critique score` on them: {score_s:.1f} s")


def fresh_feature_seconds(folder: Path, work: Path) -> float:
    """Seconds to compute Lite0 features for every photo of ``folder`` with an empty cache."""
    from critique_app.core.store.store import ModelStore
    from train.hardware import resolve_hardware
    from train.progress import Progress
    from train.tasks.embeddings import EmbeddingCache, embed_photos
    from train.tasks.frozen import Lite0Embedder, lite0_input, lite0_spec, resolve_lite0_backbone

    backbone = resolve_lite0_backbone(ModelStore())
    hardware = resolve_hardware("cpu", "auto", None)
    shutil.rmtree(work / "embeddings-fresh", ignore_errors=True)
    cache = EmbeddingCache(work / "embeddings-fresh")
    try:
        embedded = embed_photos(sorted(folder.glob("*.jpg")), backbone, cache,
                                Progress(),
                                make_embedder=lambda: Lite0Embedder(backbone, hardware,
                                                                  work / "embeddings-fresh"),
                                load_input=lambda p: lite0_input(p, lite0_spec()))
    finally:
        cache.close()
    return embedded.seconds


if __name__ == "__main__":
    main()
