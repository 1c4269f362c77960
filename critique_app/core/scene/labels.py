"""What the ImageNet backbone recognises: words a text-only model can write from."""

from __future__ import annotations

import functools
import threading
import weakref
from pathlib import Path

import numpy as np

LABEL_MODEL = "efficientnet-lite0-imagenet"
KEPT = 5  # labels worked out per photo; callers take the top few
_RECENT = 4  # photos whose labels are remembered (the open one, and a few just left)
_recent: list[tuple[weakref.ref, Path, list[tuple[str, float]]]] = []
_lock = threading.Lock()


def imagenet_labels(pixels: np.ndarray, store, *, top: int = 3) -> list[tuple[str, float]]:
    """Top ImageNet classes and probabilities, or [] when the backbone is not installed.

    The classifier runs once per pixel array: the scene and the critique of one photo
    both ask, and the second gets the first's answer."""
    folder = store.path(LABEL_MODEL)
    if folder is None:
        return []
    top = min(top, KEPT)
    with _lock:
        for ref, known_folder, labels in _recent:
            if ref() is pixels and known_folder == folder:
                return labels[:top]
    labels = _classify(pixels, folder)
    with _lock:
        _recent[:] = [entry for entry in _recent if entry[0]() is not None][-(_RECENT - 1):]
        _recent.append((weakref.ref(pixels), folder, labels))
    return labels[:top]


def _classify(pixels: np.ndarray, folder: Path) -> list[tuple[str, float]]:
    import torch

    from critique_app.core.scoring.backbone import LITE0_INPUT
    from critique_app.core.scoring.preprocess import to_network_input

    model = _classifier(folder)
    batch = torch.from_numpy(to_network_input(pixels, LITE0_INPUT)[None])
    with torch.inference_mode():
        probabilities = model(batch)[0].softmax(-1)
    values, indices = probabilities.topk(KEPT)
    names = _class_names()
    return [(names[int(i)], float(v)) for v, i in zip(values, indices, strict=True)]


def labels_text(labels: list[tuple[str, float]]) -> str:
    return ", ".join(f"{name} ({probability:.0%})" for name, probability in labels)


@functools.lru_cache(maxsize=1)
def _classifier(folder: Path):
    """Keyed by the weights' folder, not the store object: callers make a store per
    critique, and the network should load once per process."""
    from critique_app.core.scoring.backbone import lite0_from_folder

    return lite0_from_folder(folder, num_classes=1000)


@functools.lru_cache(maxsize=1)
def _class_names() -> list[str]:
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_description(i).split(",")[0] for i in range(1000)]
