"""What speeds up LAION aesthetic v2's model (CLIP ViT-L/14 + head) on a CPU, and at what cost.

Builds the vision tower at real size from ``../shared/real-configs/clip-vit-large-patch14``
(random weights) with the real LAION head, then times, on the same inputs, seconds a photo
of: torch fp32 at batch 1 and 8; torch with dynamic int8 Linear layers
(``torch.ao.quantization.quantize_dynamic``); ONNX Runtime fp32 (the plain export); ONNX
Runtime int8 as Critique makes it (:mod:`critique_app.core.scoring.pretrained.onnx_int8`:
MatMul weights int8 per channel, activations quantised at run time) at batch 1 and 8. Then
fidelity of the int8 path against torch fp32 on ``--crops`` crops of the real test photos
(tests/helpers/photos.py, CLIP's resize and crop): Spearman correlation, max and mean
|difference| of the predicted mean score. Ratios are against torch fp32 batch 1 in the same
run. Caveat: with random backbone weights the scores spread little (a few tenths), so the
correlation is a weak test, and real weights may quantise with another error; the parity
check at export time compares against torch on the real weights on every install.

    python benchmarks/bench_clip_runtime.py [--threads N] [--crops 48]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFIG = SHARED / "real-configs" / "clip-vit-large-patch14"
HEAD = SHARED / "fixtures" / "laion-aesthetic-v2-head.pth"


def build():
    from transformers import CLIPConfig, CLIPVisionModelWithProjection

    from critique_app.core.scoring.pretrained.laion import LaionAesthetic, load_head

    torch.manual_seed(0)
    vision = CLIPVisionModelWithProjection(CLIPConfig.from_pretrained(CONFIG).vision_config)
    return LaionAesthetic(vision.eval(), load_head(HEAD)).eval()


def crops(count: int) -> np.ndarray:
    """``count`` crops (50-100% of each side, at random places) of the real test photos,
    through Critique's LAION preprocessing (CLIP's resize and centre crop)."""
    sys.path.insert(0, str(ROOT))
    from critique_app.core.scoring.preprocess import to_network_input
    from critique_app.core.scoring.pretrained.registry import ARCHITECTURES
    from tests.helpers.photos import PHOTOS, load_rgb

    spec = ARCHITECTURES["critique:laion-aesthetic-v2"].input
    rng = np.random.default_rng(0)
    photos = [load_rgb(name).astype(np.float32) / 255 for name in PHOTOS]
    out = []
    for i in range(count):
        rgb = photos[i % len(photos)]
        height, width = rgb.shape[:2]
        h, w = int(height * rng.uniform(0.5, 1)), int(width * rng.uniform(0.5, 1))
        y, x = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
        out.append(to_network_input(rgb[y:y + h, x:x + w], spec))
    return np.stack(out)


def per_photo(run, batch: np.ndarray, size: int) -> float:
    """Seconds a photo of ``run`` over ``batch`` in chunks of ``size``, after a warm-up."""
    run(batch[:size])
    start = time.perf_counter()
    for i in range(0, len(batch), size):
        run(batch[i:i + size])
    return (time.perf_counter() - start) / len(batch)


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    s = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda batch: s.run(None, {"image": np.ascontiguousarray(batch)})[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parser.add_argument("--threads", type=int, default=cores)
    parser.add_argument("--photos", type=int, default=8, help="timed inputs per variant")
    parser.add_argument("--crops", type=int, default=48, help="photo crops for fidelity")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from scipy.stats import spearmanr

    from critique_app.core.scoring.onnx_runtime import export_onnx
    from critique_app.core.scoring.pretrained.onnx_int8 import quantise, run_each

    net = build()
    inputs = crops(max(args.photos, args.crops))
    timed = inputs[:args.photos]

    def torch_run(model):
        def run(batch):
            with torch.inference_mode():
                return model(torch.from_numpy(batch)).numpy()
        return run

    print(f"CLIP ViT-L/14 + LAION head, {args.threads} threads ({cores} cores), torch "
          f"{torch.__version__.split('+')[0]}; seconds a photo over {len(timed)} inputs",
          flush=True)
    rows = []

    def report(name: str, seconds: float) -> None:
        rows.append((name, seconds))
        base = rows[0][1]
        print(f"  {name:44s} {seconds:6.3f} s a photo  x{base / seconds:4.2f}", flush=True)

    report("torch fp32, batch 1", per_photo(torch_run(net), timed, 1))
    report("torch fp32, batch 8", per_photo(torch_run(net), timed, 8))
    dynamic = torch.ao.quantization.quantize_dynamic(net, {torch.nn.Linear}, dtype=torch.qint8)
    report("torch dynamic int8 Linear, batch 8", per_photo(torch_run(dynamic), timed, 8))
    del dynamic
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        start = time.perf_counter()
        export_onnx(net, fp32, 224)
        exported = time.perf_counter() - start
        start = time.perf_counter()
        quantise(fp32, int8)
        quantised = time.perf_counter() - start
        print(f"  (ONNX export {exported:.0f} s, int8 quantisation {quantised:.0f} s; "
              f"{fp32.stat().st_size / 2**20:.0f} MB -> {int8.stat().st_size / 2**20:.0f} MB)",
              flush=True)
        report("ONNX Runtime fp32, batch 8", per_photo(session(fp32, args.threads), timed, 8))
        fast = session(int8, args.threads)
        report("ONNX Runtime int8, batch 8", per_photo(fast, timed, 8))
        report("ONNX Runtime int8, batch 1 (Critique's path)", per_photo(fast, timed, 1))

        sample = inputs[:args.crops]
        reference = np.concatenate([torch_run(net)(sample[i:i + 8])
                                    for i in range(0, len(sample), 8)])
        quick = run_each(fast, sample)
    difference = np.abs(reference - quick)
    print(f"fidelity on {len(sample)} crops of the test photos, int8 (batch 1) vs torch fp32: "
          f"Spearman {spearmanr(reference, quick).statistic:.3f}, max |diff| "
          f"{difference.max():.3f}, mean |diff| {difference.mean():.3f}; torch's scores span "
          f"{reference.min():.2f}-{reference.max():.2f} (std {reference.std():.3f}: random "
          "backbone weights spread them little)")


if __name__ == "__main__":
    main()
