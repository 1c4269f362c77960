"""The frozen Lite0 feature pass of `train personal` (no --base) against `critique score`.

One run, the same photos, the same machine: 300 photos rated with stars in XMP sidecars
(bench_small_data.py's learnable set: degraded crops of the test photos), then
- `critique score`'s score_photos on them (draft decoding at 720 px, analysis, the Lite0
  score model that `personal` exported, ONNX Runtime), an empty results cache;
- the feature pass from an empty embedding cache: now (draft decoding at 720 px, the feature
  graph through ONNX Runtime), once with the feature graph exported and checked first (a
  first run) and once with it kept (every later run);
- the feature pass as it was before (decoding at the app's 1280 px analysis size, Lite0 in
  eager torch), for the before/after figures;
- the held-out SRCC of the ridge head on either set of features (the split `personal` uses).

Printed: the seconds of each and the ratio feature pass / `critique score`.

    .venv/bin/python benchmarks/bench_personal_features.py [--photos 300] [--side 224]
        [--work DIR] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def feature_pass(folder: Path, cache_dir: Path, *, before: bool = False,
                 keep_graph: Path | None = None) -> tuple[dict, float, float]:
    """(vectors by path, seconds, seconds of them exporting the graph) from an empty cache."""
    from functools import partial

    from critique_app.core.store.store import ModelStore
    from train.hardware import resolve_hardware
    from train.progress import Progress
    from train.tasks.embeddings import EmbeddingCache, embed_photos
    from train.tasks.frozen import Lite0Embedder, lite0_input, lite0_spec, resolve_lite0_backbone

    backbone = resolve_lite0_backbone(ModelStore())
    hardware = resolve_hardware("cpu", "auto", None)
    shutil.rmtree(cache_dir, ignore_errors=True)
    cache = EmbeddingCache(cache_dir)
    if keep_graph is not None:  # the graph a first run exported: what every later run finds
        shutil.copy2(keep_graph, Lite0Embedder.graph_path(backbone, cache_dir))
    made = []

    def make():
        made.append(Lite0Embedder(backbone, hardware, cache_dir,
                                  runtime="torch" if before else "auto"))
        return made[0]

    load = before_input if before else partial(lite0_input, spec=lite0_spec())
    try:
        embedded = embed_photos(sorted(folder.glob("*.jpg")), backbone, cache, Progress(),
                                make_embedder=make, load_input=load)
    finally:
        cache.close()
    return embedded.vectors, embedded.seconds, made[0].graph_seconds


def before_input(path: Path) -> np.ndarray:
    """The old decode: the app's analysis size (load_photo's default, 1280)."""
    from critique_app.core.photo import load_photo
    from critique_app.core.scoring.preprocess import to_network_input
    from train.tasks.frozen import lite0_spec

    return to_network_input(load_photo(path).pixels, lite0_spec())


def score_seconds(folder: Path, model_name: str, work: Path) -> float:
    """`critique score`'s score_photos on every photo of ``folder`` (empty results cache)."""
    from critique_app.core.folder_scoring.runner import score_photos
    from critique_app.core.library.finding import find_photos
    from critique_app.core.library.results_cache import ResultsCache
    from critique_app.core.scoring.scorer import find_scorers

    photos = find_photos(folder)
    scorers = find_scorers(name=model_name, runtime="onnx", device="cpu")
    path = work / "results.sqlite"
    path.unlink(missing_ok=True)
    with ResultsCache(path) as cache:
        started = time.perf_counter()
        result = score_photos(photos, cache=cache, scorers=scorers, jobs=2)
        seconds = time.perf_counter() - started
    assert result.computed == len(photos), (result.computed, result.failed)
    return seconds


def held_out_srcc(folder: Path, vectors: dict, val_fraction: float, seed: int) -> float:
    """The ridge head's held-out SRCC on these features, split as `personal` splits."""
    from train.data.formats import load_dataset
    from train.data.split import split_rows
    from train.metrics.scores import srcc
    from train.tasks.frozen import MIN_HELD_OUT, fit_standardised_ridge
    from train.tasks.heads import means_of

    rows = load_dataset(folder, None, kind="score").rows
    fraction = max(val_fraction, min(0.5, MIN_HELD_OUT / max(1, len(rows))))
    train_rows, val_rows = split_rows(rows, fraction, seed)

    def xy(part):
        return (np.stack([vectors[r.image] for r in part]).astype(np.float64),
                means_of(np.asarray([r.distribution for r in part], np.float64)))

    x, y = xy(train_rows)
    xv, yv = xy(val_rows)
    fitted = fit_standardised_ridge(x, y, seed)
    return srcc(xv @ fitted.weights + fitted.bias, yv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--side", type=int, default=224, help="the photos' side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-features-"))
    os.environ["CRITIQUE_HOME"] = str(work / "home")  # a store of its own
    from bench_small_data import learnable_set, stars_folder, train

    from critique_app.core.scoring.backbone import LITE0_STORE_NAME
    from critique_app.core.store.store import ModelStore

    store = ModelStore()
    store.pull(LITE0_STORE_NAME, report=lambda _: None, show_progress=False)
    table = work / f"set-{args.side}" / "ratings.csv"
    if not table.is_file():
        learnable_set(table.parent, args.photos, size=args.side, seed=args.seed)
    mine = work / f"mine-{args.side}"
    if not mine.is_dir():
        stars_folder(table, mine, args.photos)
    name = "bench-lite0"
    if store.path(name) is None:  # a Lite0 score model ("stages", mean): personal's own
        train("personal", "--data", mine, "--out", work / "personal", "--profile", "cpu",
              "--progress", "none", "--embedding-cache", work / "emb-train", "--seed",
              args.seed, "--name", name)
        store.import_dir(work / "personal" / "model")
    import torch

    print(f"{args.photos} photos of {args.side} x {args.side} px; CPU threads "
          f"{os.cpu_count()}, torch threads {torch.get_num_threads()}; work folder {work}")
    graph = None
    for repeat in range(args.repeats):
        score_s = score_seconds(mine, name, work)
        now, now_s, export_s = feature_pass(mine, work / "emb-now")
        if graph is None:
            graph = next((work / "emb-now").glob("lite0-features-*.onnx"))
            graph = shutil.copy2(graph, work / graph.name)
        kept, kept_s, _ = feature_pass(mine, work / "emb-kept", keep_graph=Path(graph))
        old, old_s, _ = feature_pass(mine, work / "emb-before", before=True)
        print(f"[{repeat + 1}] `critique score` (score_photos, Lite0 score model, ONNX): "
              f"{score_s:.1f} s")
        print(f"[{repeat + 1}] features now, graph kept: {kept_s:.1f} s "
              f"(ratio to score {kept_s / score_s:.2f}); first run, graph exported and "
              f"checked: {now_s:.1f} s ({export_s:.1f} s of it; ratio {now_s / score_s:.2f})")
        print(f"[{repeat + 1}] features before (1280 px decode, eager torch): {old_s:.1f} s "
              f"(ratio to score {old_s / score_s:.2f})")
        difference = max(float(np.abs(now[p] - old[p]).max()) for p in now)
        print(f"[{repeat + 1}] largest feature difference now vs before: {difference:.2g}")
    print(f"held-out SRCC of the ridge head: features now {held_out_srcc(mine, kept, 0.1, 0):.3f}"
          f", before {held_out_srcc(mine, old, 0.1, 0):.3f}")


if __name__ == "__main__":
    main()
