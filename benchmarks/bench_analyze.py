"""Analysing a 24 MP JPEG vs. merely decoding it in full with Pillow.

Makes 24 MP JPEGs by upscaling real photos, then, for each file, times
(a) a plain full-resolution Pillow decode and (b) Critique's ``analyze``
(draft decode + blur + saliency + measurements; depth excluded), and prints
their ratio. Target: the ratio is below 1 (analysis is cheaper than a full
decode). Both are measured in this same run, on this machine. The last column
is the part of ``analyze`` spent loading (draft decode to float sRGB).

    python benchmarks/bench_analyze.py [--repeat 5] [--side 6000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from critique_app.core.analysis.analyzer import analyze
from critique_app.core.photo import load_photo
from critique_app.core.util.paths import resource_path

SOURCES = ["rocket.jpg", "chelsea.jpg"]


def make_big_jpegs(folder: Path, width: int, grain: float) -> list[Path]:
    """Upscaled real photos plus film grain: a smooth upscale alone compresses (and
    decodes) far faster than a camera file; grain restores realistic entropy."""
    rng = np.random.default_rng(0)
    paths = []
    for name in SOURCES:
        with Image.open(resource_path("samples", name)) as source:
            height = round(width * 2 / 3)
            big = source.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
        pixels = np.asarray(big, dtype=np.int16)
        pixels = pixels + rng.normal(0, grain, pixels.shape).astype(np.int16)
        path = folder / f"big-{name}"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=92)
        paths.append(path)
    return paths


def full_decode(path: Path) -> None:
    with Image.open(path) as image:
        image.load()


def best_of(function, path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(path)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--side", type=int, default=6000, help="long side (6000 -> 24 MP)")
    parser.add_argument("--grain", type=float, default=6.0, help="noise sigma, 8-bit levels")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        paths = make_big_jpegs(Path(tmp), args.side, args.grain)
        analyze(paths[0], depth=False)  # warm-up: first-call set-up is not per-photo cost
        print(f"{'file':22} {'MP':>5} {'MB':>5} {'full decode':>12} {'analyze':>10} {'ratio':>7}"
              f"   {'of which loading':>16}")
        ratios = []
        for path in paths:
            with Image.open(path) as image:
                megapixels = image.width * image.height / 1e6
            decode_min, _ = best_of(full_decode, path, args.repeat)
            analyze_min, _ = best_of(lambda p: analyze(p, depth=False), path, args.repeat)
            load_min, _ = best_of(load_photo, path, args.repeat)  # the draft decode's share
            ratio = analyze_min / decode_min
            ratios.append(ratio)
            size_mb = path.stat().st_size / 1e6
            print(f"{path.name:22} {megapixels:5.1f} {size_mb:5.1f} {decode_min * 1000:10.0f}ms "
                  f"{analyze_min * 1000:8.0f}ms {ratio:7.2f}   {load_min * 1000:14.0f}ms")
        worst = max(ratios)
        verdict = "meets" if worst < 1 else "MISSES"
        print(f"worst ratio analyze/full-decode = {worst:.2f} -> {verdict} the < 1 target")


if __name__ == "__main__":
    main()
