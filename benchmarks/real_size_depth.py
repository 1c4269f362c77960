"""The depth map at the real model size: Depth-Anything-V2-Small with random weights.

The Hub is unreachable here, so the model is built from the real config and
processor files in ``shared/real-configs/Depth-Anything-V2-Small-hf`` (24.8 M
parameters, as the real model.safetensors) with random weights: the time it
takes does not depend on the weights' values. It is saved like a download and
loaded through the app's own depth loader.

``build_real_depth_model(folder)`` and ``time_depth(folder, photo)`` are what the
real-size benchmark (``bench_real_size.py``) calls. Run this file on its own for the
depth figure alone; the baseline, measured in the same run, is the bare transformers
call (processor + forward, no resize back or normalisation), so the ratio is what the
app adds. Target: the app's depth map of a 1280 px photo in <= 5 s on 2 CPU cores.

    python benchmarks/real_size_depth.py [--repeat 3] [--configs DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
REAL_CONFIGS = REPO.parent / "shared" / "real-configs" / "Depth-Anything-V2-Small-hf"
PHOTO_SIDE = 1280  # the analysis size the app opens a photo at (imaging.load)


def build_real_depth_model(folder: Path, configs: Path = REAL_CONFIGS) -> Path:
    """A Depth-Anything-V2-Small of the real size with random (seeded) weights, saved in
    ``folder`` as a download would be: config.json, model.safetensors,
    preprocessor_config.json. Returns ``folder``."""
    import torch
    from transformers import AutoConfig, AutoModelForDepthEstimation

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(configs, local_files_only=True)
    model = AutoModelForDepthEstimation.from_config(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    shutil.copy(Path(configs) / "preprocessor_config.json", folder / "preprocessor_config.json")
    return folder


def photo_1280(path: Path | None = None, *, folder: Path | None = None) -> Path:
    """``path`` when given; else a real photo (scikit-learn's china.jpg, CC BY 2.0)
    upscaled to 1280 px on the long side, saved as a JPEG in ``folder`` (default: a new
    temporary folder)."""
    if path is not None:
        return Path(path)
    import sklearn

    source = Path(sklearn.__file__).parent / "datasets" / "images" / "china.jpg"
    with Image.open(source) as image:
        width, height = image.size
        scale = PHOTO_SIDE / max(width, height)
        big = image.convert("RGB").resize((round(width * scale), round(height * scale)),
                                          Image.Resampling.BICUBIC)
    folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="critique-depth-photo-"))
    target = folder / "china-1280.jpg"
    big.save(target, quality=92)
    return target


def time_depth(folder: Path, photo: Path, *, repeats: int = 3) -> float:
    """Median seconds for the app's depth map of ``photo`` (loaded at the analysis size,
    1280 px), the model already loaded by the app's loader; one warm-up run first."""
    from critique_app.core.maps.depth import compute_depth, load_depth_model
    from critique_app.core.photo import load_photo

    load_depth_model(Path(folder))
    pixels = load_photo(photo).pixels
    compute_depth(pixels, Path(folder))  # warm-up: first-call allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = compute_depth(pixels, Path(folder))
        times.append(time.perf_counter() - start)
    assert result.available and result.map.shape == pixels.shape[:2], result.reason
    return statistics.median(times)


def time_bare_transformers(folder: Path, photo: Path, *, repeats: int = 3) -> float:
    """The baseline: median seconds of the processor and the forward pass alone."""
    import torch

    from critique_app.core.maps.depth import load_depth_model
    from critique_app.core.photo import load_photo

    model = load_depth_model(Path(folder))
    pixels = load_photo(photo).to_uint8()
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        with torch.inference_mode():
            model.model(**model.processor(images=pixels, return_tensors="pt"))
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--configs", type=Path, default=REAL_CONFIGS)
    parser.add_argument("--photo", type=Path, default=None)
    args = parser.parse_args()
    import torch

    from critique_app.core.maps.depth import load_depth_model
    from critique_app.core.photo import load_photo

    with tempfile.TemporaryDirectory(prefix="critique-real-depth-") as tmp:
        start = time.perf_counter()
        folder = build_real_depth_model(Path(tmp) / "Depth-Anything-V2-Small-hf", args.configs)
        built = time.perf_counter() - start
        start = time.perf_counter()
        model = load_depth_model(folder)
        loaded = time.perf_counter() - start
        photo = photo_1280(args.photo, folder=Path(tmp))
        size = load_photo(photo).pixels.shape
        params = sum(p.numel() for p in model.model.parameters())
        print(f"model: {params / 1e6:.1f} M parameters, built in {built:.1f} s, "
              f"loaded by the app in {loaded:.1f} s; photo {size[1]}x{size[0]}; "
              f"torch threads {torch.get_num_threads()}")
        inputs = model.processor(images=load_photo(photo).to_uint8(), return_tensors="pt")
        print(f"the model sees {tuple(inputs['pixel_values'].shape[2:])} (processor: 518 px "
              "on the short side, aspect kept, multiple of 14)")
        # Alternated, one run of each at a time, so both see the same load on a shared
        # machine; CPU time says what the map costs whatever else runs.
        bare, app, cpu = [], [], []
        for _ in range(args.repeat):
            bare.append(time_bare_transformers(folder, photo, repeats=1))
            start = time.process_time()
            app.append(time_depth(folder, photo, repeats=1))
            cpu.append((time.process_time() - start) / 2)  # time_depth warms up once
        baseline, app, cpu = (statistics.median(v) for v in (bare, app, cpu))
        print(f"bare transformers (processor + forward): {baseline:.2f} s")
        print(f"app depth map (compute_depth):           {app:.2f} s  "
              f"ratio {app / baseline:.2f}; target <= 5 s")
        print(f"CPU time per app depth map: {cpu:.2f} s on {torch.get_num_threads()} threads "
              f"(wall time over CPU time / threads: other processes had the cores); "
              f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
