"""LAION aesthetic v2 at real size: ``critique score``'s pipeline vs the naive one, same run.

Used by ``bench_score.py --scorer clip-l``. The model is CLIP ViT-L/14's vision tower built
from the real config (``../shared/real-configs/clip-vit-large-patch14``, random weights: the
speed does not depend on their values) with the real LAION head from ``../shared/fixtures``,
installed as ``laion-aesthetic-v2`` in a throw-away ``CRITIQUE_HOME``. It prints photos/s of
  (a) naive, as pyiqa or the LAION predictor's script score a folder: per photo a full
      Pillow decode at full resolution, CLIP's processor resize (shorter side to 224,
      bicubic) and centre crop, the torch fp32 model at batch 1;
  (b) ``critique score``: ``score_photos`` with the installed scorer as ``find_scorers``
      gives it (draft decoding on ``--jobs`` threads, measurements, the model on batches;
      on a CPU the int8 ONNX export of :mod:`critique_app.core.scoring.pretrained.onnx_int8`,
      made once per install and timed apart), results cache empty at the start;
and their ratio (target >= 3x on 2 CPU cores); also (c), ``critique score``'s pipeline with the
torch fp32 model (``runtime="torch"``), to tell what batching and draft decoding give alone.
``--memory N`` scores N distinct photos in one ``score_photos`` call (in a fresh process, the
export cached) and samples resident memory as it goes. With CUDA, the GPU section prints
fp16 photos/s and peak GPU memory at batch 1 and 16.
"""

from __future__ import annotations

import gc
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGET = 3.0


def install_laion(home: Path):
    """The real-size LAION model installed in ``home``'s store (``home`` is CRITIQUE_HOME)."""
    sys.path.insert(0, str(ROOT))
    from critique_app.core.util.paths import models_dir
    from tests.helpers.score_models import (
        LAION,
        LAION_ARCHITECTURE,
        install_pretrained,
        save_tiny_laion,
    )

    started = time.perf_counter()
    folder = save_tiny_laion(home / "download", real_size=True)
    store = install_pretrained(models_dir(), folder, name=LAION, architecture=LAION_ARCHITECTURE)
    print(f"installed {LAION} at real size (CLIP ViT-L/14 vision tower, random weights; real "
          f"LAION head) in {time.perf_counter() - started:.0f} s", flush=True)
    return store, LAION


def clip_input(image) -> np.ndarray:
    """CLIP's processor, as the naive pipeline runs it: shorter side to 224 (Pillow
    bicubic), centre crop, scale to [0, 1], CLIP mean/std; (1, 3, 224, 224)."""
    from PIL import Image

    from critique_app.core.scoring.pretrained.registry import CLIP_MEAN, CLIP_STD

    width, height = image.size
    scale = 224 / min(width, height)
    resized = image.resize((max(224, round(width * scale)), max(224, round(height * scale))),
                           Image.Resampling.BICUBIC)
    left, top = (resized.width - 224) // 2, (resized.height - 224) // 2
    square = resized.crop((left, top, left + 224, top + 224))
    pixels = (np.asarray(square, np.float32) / 255 - np.float32(CLIP_MEAN)) / np.float32(CLIP_STD)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None])


def naive(paths: list[Path], net) -> float:
    """(a): one photo at a time, full decode, the processor, torch fp32 at batch 1."""
    import torch
    from PIL import Image

    start = time.perf_counter()
    with torch.inference_mode():
        for path in paths:
            with Image.open(path) as image:
                batch = clip_input(image.convert("RGB"))
            net(torch.from_numpy(batch))
    return len(paths) / (time.perf_counter() - start)


def critique(paths: list[Path], scorers, jobs: int, cache_path: Path) -> tuple[float, float]:
    """(b): ``score_photos``, as ``critique score`` runs it; photos/s and model s/photo."""
    from critique_app.core.folder_scoring.runner import score_photos
    from critique_app.core.library.results_cache import ResultsCache

    cache_path.unlink(missing_ok=True)
    start = time.perf_counter()
    with ResultsCache(cache_path) as cache:
        result = score_photos(paths, cache=cache, scorers=scorers, jobs=jobs)
    elapsed = time.perf_counter() - start
    assert result.computed == len(paths), result
    seconds, photos = next(iter(result.model_seconds.values()))
    return len(paths) / elapsed, seconds / photos


def copies(sources: list[Path], folder: Path, count: int, *, distinct: bool) -> list[Path]:
    """``count`` files cycling through ``sources``; ``distinct``: bytes changed inside the
    entropy-coded data so every copy has its own content key (none is a cache hit)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        target = folder / f"IMG_{i:05d}.jpg"
        if distinct:
            data = bytearray(sources[i % len(sources)].read_bytes())
            data[-3], data[-4] = i % 251, i // 251 % 251
            target.write_bytes(bytes(data))
        else:
            shutil.copyfile(sources[i % len(sources)], target)
        paths.append(target)
    return paths


def run(args, tmp: Path) -> None:
    home = tmp / "home"
    os.environ["CRITIQUE_HOME"] = str(home)  # throw-away: models, ONNX exports, speeds
    os.environ.pop("CRITIQUE_MODELS_DIR", None)
    import torch
    from bench_analyze import make_big_jpegs

    from critique_app.core.scoring.pretrained.scorer import PretrainedScorer
    from critique_app.core.scoring.scorer import ScorerSet

    store, name = install_laion(home)
    started = time.perf_counter()
    scorer = PretrainedScorer.from_store(store, name, device="cpu")
    first = time.perf_counter() - started
    started = time.perf_counter()
    scorer = PretrainedScorer.from_store(store, name, device="cpu")
    again = time.perf_counter() - started
    print(f"scorer ready: first start {first:.0f} s (makes the {scorer.runtime} export, once "
          f"per install), next start {again:.1f} s; runs on {scorer.provider}; peak resident "
          f"memory so far {peak_mb():.0f} MB", flush=True)
    scorers = ScorerSet({"photo": scorer})
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    if args.photos:
        sources = make_big_jpegs(tmp, args.width, 6.0)
        paths = copies(sources, tmp / "shoot", args.photos, distinct=False)
        megapixels = args.width * round(args.width * 2 / 3) / 1e6
        critique(paths[:2], scorers, args.jobs, tmp / "warm.sqlite")  # warm-up
        b, model_b = critique(paths, scorers, args.jobs, tmp / "cache.sqlite")
        if not args.skip_naive:
            from critique_app.core.scoring.pretrained.laion import load_laion

            net = load_laion(store.folder(name))
            naive(paths[:1], net)  # warm-up
            a = naive(paths, net)
            del net
            gc.collect()
            plain = ScorerSet({"photo": PretrainedScorer.from_store(store, name, device="cpu",
                                                                    runtime="torch")})
            critique(paths[:2], plain, args.jobs, tmp / "warm-torch.sqlite")
            c, model_c = critique(paths, plain, args.jobs, tmp / "torch.sqlite")
            del plain
            gc.collect()
        print(f"{len(paths)} photos of {megapixels:.0f} MP, {cores} cores, torch "
              f"{torch.get_num_threads()} threads")
        if not args.skip_naive:
            print(f"(a) naive (full decode, CLIP resize + crop, torch fp32 batch 1): "
                  f"{a:6.3f} photos/s")
        print(f"(b) critique score (draft decode x{args.jobs}, {scorer.provider}): {b:6.3f} "
              f"photos/s (model {model_b:.3f} s a photo)")
        if not args.skip_naive:
            print(f"(c) critique score's pipeline, torch fp32 model: {c:6.3f} photos/s (model "
                  f"{model_c:.3f} s a photo), ratio (c)/(a) = {c / a:.2f}")
            verdict = "meets" if b / a >= TARGET else "MISSES"
            print(f"ratio (b)/(a) = {b / a:.2f} -> {verdict} the >= {TARGET:g}x target",
                  flush=True)
    if args.memory:
        # A fresh process, as a normal start (the export made above is cached): this one's
        # heap still holds what making the export took.
        import multiprocessing

        record = store.record(name) or {}
        child = multiprocessing.get_context("spawn").Process(
            target=memory_child, args=(args, tmp, str(home), store.folder(name), name,
                                       store.entry(name).architecture, record["files"]))
        del scorer, scorers
        gc.collect()
        child.start()
        child.join()
    gpu_section(store, name, tmp, args)


def memory_child(args, tmp: Path, home: str, folder: Path, name: str, architecture: str,
                 files: dict) -> None:
    os.environ["CRITIQUE_HOME"] = home
    sys.path.insert(0, str(Path(__file__).parent))
    from critique_app.core.scoring.pretrained.scorer import PretrainedScorer
    from critique_app.core.scoring.scorer import ScorerSet

    started = time.perf_counter()
    scorer = PretrainedScorer(folder, name=name, architecture=architecture, files=files,
                              device="cpu")
    print(f"memory run in a fresh process: scorer ready in {time.perf_counter() - started:.1f}"
          f" s on {scorer.provider}, resident {resident_mb():.0f} MB", flush=True)
    memory_check(args, tmp, ScorerSet({"photo": scorer}))


def memory_check(args, tmp: Path, scorers) -> None:
    """One ``score_photos`` call over ``--memory`` distinct photos, resident memory sampled."""
    from bench_analyze import make_big_jpegs

    from critique_app.core.folder_scoring.runner import score_photos
    from critique_app.core.library.results_cache import ResultsCache

    sources_dir = tmp / "memory-sources"
    sources_dir.mkdir()
    sources = make_big_jpegs(sources_dir, args.memory_width, 6.0)
    many = copies(sources, tmp / "many", args.memory, distinct=True)
    megapixels = args.memory_width * round(args.memory_width * 2 / 3) / 1e6
    print(f"memory run: {len(many)} distinct photos of {megapixels:.0f} MP", flush=True)
    every = max(1, args.memory // 20)
    samples: list[tuple[int, float]] = []
    start = time.perf_counter()

    def progress(done: int, total: int, counts: dict) -> None:
        last = samples[-1][0] if samples else -every
        if done - last >= every or (done == total and last != total):
            samples.append((done, resident_mb()))
            print(f"  {done:5d}/{total} photos: resident {samples[-1][1]:6.0f} MB, "
                  f"{done / (time.perf_counter() - start):.2f} photos/s", flush=True)

    with ResultsCache(tmp / "memory.sqlite") as cache:
        result = score_photos(many, cache=cache, scorers=scorers, jobs=args.jobs,
                              progress=progress)
    assert result.computed == len(many), result
    settled = [mb for done, mb in samples if done >= every]
    print(f"memory over {len(many)} photos: resident {min(settled):.0f}-{max(settled):.0f} MB "
          f"from photo {every} on (last - first sample {settled[-1] - settled[0]:+.0f} MB); "
          f"process peak {peak_mb():.0f} MB")


def gpu_section(store, name: str, tmp: Path, args) -> None:
    """fp16 (autocast, as the scorer runs on CUDA) photos/s and peak GPU memory of the model
    alone at batch 1 and 16, and ``critique score``'s pipeline on CUDA."""
    import torch

    if not torch.cuda.is_available():
        print("GPU section: CUDA is not available here, skipped")
        return
    from critique_app.core.scoring.pretrained.laion import load_laion
    from critique_app.core.scoring.pretrained.scorer import PretrainedScorer
    from critique_app.core.scoring.scorer import ScorerSet

    device = torch.cuda.get_device_name(0)
    net = load_laion(store.folder(name)).cuda().eval()
    print(f"GPU section on {device}: LAION v2 model alone, fp16 autocast")
    for batch_size in (1, 16):
        batch = torch.randn(batch_size, 3, 224, 224, device="cuda")
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16):
            for _ in range(3):
                net(batch)
            torch.cuda.synchronize()
            repeats = max(5, 64 // batch_size)
            start = time.perf_counter()
            for _ in range(repeats):
                net(batch)
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated() / 2**20
        print(f"  batch {batch_size:2d}: {repeats * batch_size / elapsed:7.1f} photos/s "
              f"({elapsed / (repeats * batch_size) * 1000:.1f} ms a photo), peak GPU memory "
              f"{peak:.0f} MB")
    del net
    torch.cuda.empty_cache()
    if args.photos:
        from bench_analyze import make_big_jpegs

        scorer = PretrainedScorer.from_store(store, name, device="cuda")
        sources = make_big_jpegs(tmp, args.width, 6.0)
        paths = copies(sources, tmp / "gpu-shoot", max(args.photos, 32), distinct=False)
        scorers = ScorerSet({"photo": scorer})
        critique(paths[:2], scorers, args.jobs, tmp / "gpu-warm.sqlite")
        photos_s, model_s = critique(paths, scorers, args.jobs, tmp / "gpu.sqlite")
        print(f"  critique score on CUDA ({len(paths)} photos, draft decode x{args.jobs}): "
              f"{photos_s:.2f} photos/s (model {model_s * 1000:.1f} ms a photo)")


def resident_mb() -> float:
    """Current (not peak) resident set size, from /proc on Linux."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:  # not Linux: fall back to the peak
        return peak_mb()


def peak_mb() -> float:
    """This process's peak resident set size: VmHWM on Linux (ru_maxrss would carry over the
    peak of the process that spawned it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
