"""Seconds a photo for the LAION aesthetic v2 scorer's network on this machine's CPU.

Builds the CLIP ViT-L/14 vision tower at its real size (``CLIPVisionModelWithProjection``
from the real config in ``../shared/real-configs/clip-vit-large-patch14/config.json``,
random weights: the speed does not depend on the values) and the LAION head (the real
file from ``../shared/fixtures/`` when it is there, else random weights of its shape),
then times batches of 8 photos at 224 px: vision tower, projection, L2 normalisation and
head, in fp32 under ``torch.inference_mode``. Decoding and resizing the photos is not
included (it is the same for every scorer).

Prints the figure the manifest's ``measured`` entry of ``laion-aesthetic-v2`` carries (on a
machine shared with other work, the process's CPU time over its threads rather than the
wall time, and it says so):

    python benchmarks/bench_clip_speed.py [--batches 4] [--batch-size 8] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFIG = SHARED / "real-configs" / "clip-vit-large-patch14" / "config.json"
HEAD = SHARED / "fixtures" / "laion-aesthetic-v2-head.pth"


def build(config_path: Path):
    from transformers import CLIPConfig, CLIPVisionModelWithProjection

    config = CLIPConfig.from_pretrained(config_path.parent)
    vision = CLIPVisionModelWithProjection(config.vision_config).eval()
    head = torch.nn.Sequential(
        torch.nn.Linear(768, 1024), torch.nn.Dropout(0.2), torch.nn.Linear(1024, 128),
        torch.nn.Dropout(0.2), torch.nn.Linear(128, 64), torch.nn.Dropout(0.1),
        torch.nn.Linear(64, 16), torch.nn.Linear(16, 1)).eval()
    real_head = HEAD.is_file()
    if real_head:
        state = torch.load(HEAD, weights_only=True, map_location="cpu")
        head.load_state_dict({k.removeprefix("layers."): v for k, v in state.items()})
    return vision, head, real_head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=4, help="timed batches (after one warm-up)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: the cores this process may use)")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(args.threads or cores)

    started = time.perf_counter()
    vision, head, real_head = build(CONFIG)
    params = sum(p.numel() for p in vision.parameters())
    print(f"built CLIP ViT-L/14 vision tower + projection ({params:,} parameters, random "
          f"weights) and the {'real' if real_head else 'random'} LAION head in "
          f"{time.perf_counter() - started:.1f} s; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {cores} cores")

    generator = torch.Generator().manual_seed(0)
    batch = torch.randn(args.batch_size, 3, 224, 224, generator=generator)

    def step() -> torch.Tensor:
        embeds = vision(pixel_values=batch).image_embeds
        embeds = embeds / embeds.norm(dim=-1, keepdim=True)
        return head(embeds)

    with torch.inference_mode():
        step()  # warm-up: allocator, oneDNN kernels
        times = []
        cpu_start = time.process_time()
        for _ in range(args.batches):
            tick = time.perf_counter()
            scores = step()
            times.append(time.perf_counter() - tick)
        cpu_seconds = time.process_time() - cpu_start
    assert scores.shape == (args.batch_size, 1)
    per_photo = sum(times) / (len(times) * args.batch_size)
    print("batch seconds: " + ", ".join(f"{t:.2f}" for t in times))
    # On a machine shared with other work the wall time includes waiting for a core; the
    # CPU time this process used, spread over its threads, is what it would take alone.
    cpu_per_photo = cpu_seconds / (len(times) * args.batch_size * torch.get_num_threads())
    print(f"CPU time per photo / threads: {cpu_per_photo:.3f} s (wall {per_photo:.3f} s; "
          "much less than wall means other work shared the cores)")
    shared = cpu_per_photo < 0.9 * per_photo
    figure_s = cpu_per_photo if shared else per_photo
    basis = (f"the process's CPU time divided by its {torch.get_num_threads()} threads (the "
             f"machine was shared: wall time {per_photo:.2f} s a photo)" if shared else
             "wall time")
    figure = {"device": "cpu", "cores": torch.get_num_threads(),
              "seconds_per_photo": round(figure_s, 3),
              "how": (f"benchmarks/bench_clip_speed.py: CLIP ViT-L/14 vision tower at real size "
                      f"(random weights) + LAION head, batch {args.batch_size} at 224 px, fp32, "
                      f"torch {torch.__version__.split('+')[0]}, {len(times)} batches after a "
                      f"warm-up, {basis}; photo decoding not included")}
    print(f"seconds per photo: {per_photo:.3f} ({1 / per_photo:.2f} photos/s)")
    print("manifest 'measured' entry:")
    print(json.dumps(figure))


if __name__ == "__main__":
    main()
