"""Batch scoring: a naive pipeline vs. Critique's ``score_photos``, same model, same run.

Makes a folder of 24 MP JPEGs (upscaled real photos with film grain), builds a
score model on the real EfficientNet-Lite0 architecture (ImageNet weights if
the backbone is installed, else random: speed does not depend on the values),
and prints photos/second for
  (a) naive: full Pillow decode, resize to 224, one torch forward per photo;
  (b) Critique: draft decode on ``--jobs`` threads, measurements, batched
      ONNX Runtime forward, results cache (empty at the start);
and their ratio. Target: (b) >= 4x (a) on 2 CPU cores. ``--memory N`` also
scores N distinct photos in one run and prints resident memory as it goes,
to show it stays flat.

    python benchmarks/bench_score.py [--photos 16] [--jobs 2] [--memory 0]

``--scorer clip-l``: the same comparison with LAION aesthetic v2 at real size (CLIP
ViT-L/14, random weights, the real head) installed in a throw-away CRITIQUE_HOME, against
the naive pipeline of pyiqa / LAION's script (full decode, CLIP's resize and crop, torch at
batch 1); target >= 3x. See ``bench_score_clip.py``:

    python benchmarks/bench_score.py --scorer clip-l [--photos 16] [--memory 2000
        --memory-width 3000 --photos 0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from bench_analyze import make_big_jpegs

from critique_app.core.folder_scoring.runner import score_photos
from critique_app.core.library.results_cache import ResultsCache
from critique_app.core.scoring.backbone import (
    LITE0,
    LITE0_INPUT,
    create_backbone,
    pretrained_lite0,
)
from critique_app.core.scoring.model import ScoreNet
from critique_app.core.scoring.package import Training, save_score_model
from critique_app.core.scoring.preprocess import to_network_input
from critique_app.core.scoring.scorer import Scorer, ScorerSet
from critique_app.core.util.errors import ModelError


def build_model(folder: Path) -> Path:
    try:
        backbone = pretrained_lite0()
    except ModelError:
        backbone = create_backbone(LITE0)
    training = Training("benchmark only (head not trained for quality)", 1, 0.0,
                        dt.datetime.now(dt.UTC).isoformat(), {})
    return save_score_model(ScoreNet(backbone).eval(), folder, name="bench-score",
                            backbone=LITE0, modality="photo", input_spec=LITE0_INPUT,
                            training=training)


def naive(paths: list[Path], net: ScoreNet) -> float:
    start = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            small = image.convert("RGB").resize((224, 224), Image.Resampling.BILINEAR)
        pixels = np.asarray(small, np.float32) / 255.0
        batch = torch.from_numpy(to_network_input(pixels, LITE0_INPUT)[None])
        with torch.inference_mode():
            net(batch)
    return len(paths) / (time.perf_counter() - start)


def critique(paths: list[Path], scorer: Scorer, jobs: int, cache_path: Path) -> float:
    cache_path.unlink(missing_ok=True)
    start = time.perf_counter()
    with ResultsCache(cache_path) as cache:
        result = score_photos(paths, cache=cache, scorers=ScorerSet({"photo": scorer}),
                              jobs=jobs)
    assert result.computed == len(paths), result
    return len(paths) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--memory", type=int, default=0, help="photos for the memory check")
    parser.add_argument("--scorer", choices=("lite0", "clip-l"), default="lite0",
                        help="the trained EfficientNet-Lite0 net or LAION v2 at real size")
    parser.add_argument("--width", type=int, default=6000,
                        help="clip-l: photo width in pixels (6000: 24 MP)")
    parser.add_argument("--memory-width", type=int, default=3000,
                        help="clip-l: photo width for the --memory run (3000: 6 MP)")
    parser.add_argument("--skip-naive", action="store_true",
                        help="clip-l: time only critique score (no torch copy in memory)")
    args = parser.parse_args()
    if args.scorer == "clip-l":
        import bench_score_clip

        with tempfile.TemporaryDirectory() as tmp:
            bench_score_clip.run(args, Path(tmp))
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sources = make_big_jpegs(tmp, 6000, 6.0)
        paths = []
        for i in range(args.photos):
            target = tmp / "shoot" / f"IMG_{i:04d}.jpg"
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(sources[i % len(sources)], target)
            paths.append(target)
        folder = build_model(tmp / "model")
        scorer = Scorer(folder, runtime="onnx", device="auto")
        net = scorer.net
        naive(paths[:2], net)  # warm-up both paths
        critique(paths[:2], scorer, args.jobs, tmp / "warm.sqlite")
        a = naive(paths, net)
        b = critique(paths, scorer, args.jobs, tmp / "cache.sqlite")
        print(f"{len(paths)} photos of 24 MP, {torch.get_num_threads()} torch threads, "
              f"ONNX provider {scorer.provider}")
        print(f"(a) naive (full decode, resize, forward one by one): {a:6.2f} photos/s")
        print(f"(b) critique score (draft decode x{args.jobs}, batched): {b:6.2f} photos/s")
        verdict = "meets" if b / a >= 4 else "MISSES"
        print(f"ratio (b)/(a) = {b / a:.2f} -> {verdict} the >= 4x target")
        if args.memory:
            memory_check(paths, scorer, args, tmp)


def memory_check(paths: list[Path], scorer: Scorer, args, tmp: Path) -> None:
    """One ``score_photos`` call over ``--memory`` distinct files (copies whose bytes
    differ, so none is a cache hit), printing resident memory as it goes."""
    folder = tmp / "many"
    folder.mkdir()
    many = []
    for i in range(args.memory):
        data = bytearray(paths[i % len(paths)].read_bytes())
        data[-3] = i % 251  # inside the entropy-coded data: distinct content keys
        data[-4] = i // 251 % 251
        copy = folder / f"{i:05d}.jpg"
        copy.write_bytes(bytes(data))
        many.append(copy)
    memory = MemorySamples(args.memory, "photos", "scored")
    with ResultsCache(tmp / "memory.sqlite") as cache:
        result = score_photos(many, cache=cache, scorers=ScorerSet({"photo": scorer}),
                              jobs=args.jobs, progress=memory.progress)
    assert result.computed == len(many), result
    memory.print_summary()


class MemorySamples:
    """Resident memory every eighth of a long run: ``progress`` is the runner's callback
    (it prints each sample), ``print_summary`` the range once the first eighth is done."""

    def __init__(self, total: int, noun: str, verb: str) -> None:
        self.total, self.noun, self.verb = total, noun, verb
        self.every = max(1, total // 8)
        self.samples: list[tuple[int, float]] = []

    def progress(self, done: int, total: int, counts: dict) -> None:
        last = self.samples[-1][0] if self.samples else -self.every
        if done - last >= self.every or (done == total and last != total):
            self.samples.append((done, resident_mb()))
            print(f"  {done:5d}/{total} {self.noun} {self.verb}: resident memory "
                  f"{self.samples[-1][1]:6.0f} MB", flush=True)

    def print_summary(self) -> None:
        settled = [mb for done, mb in self.samples if done >= self.every]
        print(f"memory over {self.total} {self.noun}: {min(settled):.0f}-{max(settled):.0f} MB "
              f"after the first {self.every} (growth {max(settled) - settled[0]:+.0f} MB)")


def resident_mb() -> float:
    """Current (not peak) resident set size, from /proc on Linux."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:  # not Linux: fall back to the peak
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
