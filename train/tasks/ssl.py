"""`ssl`: self-supervised pre-training on an unrated photo folder (after CALM).

Each step shows the network a photo and degraded copies of it (exposure,
contrast, saturation, blur, noise, crop, tilt; see ``degradations.py``) and
asks it to score the original higher, by a margin that grows with how badly
the copy was degraded. No ratings are needed, so a photographer's whole
library teaches the backbone what "worse" looks like before any score
training. The result is a backbone folder that ``score --init`` starts from.

Held-out photos measure it: how often the original is ranked above each kind
of degradation (ranking accuracy, 0.5 = chance).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from critique_app.core.store.store import LOCAL_METADATA
from critique_app.core.util.errors import CritiqueError, PhotoError
from critique_app.core.util.files import write_text_atomically
from train.seed import item_rng
from train.tasks.degradations import DEGRADATIONS, degrade
from train.tasks.images import InputCache, normalise
from train.tasks.score import SCORES
from train.tasks.score_model import (
    BACKBONE_FORMAT,
    ScoreTrainee,
    apply_freezing,
    parameter_groups,
)

KINDS = tuple(DEGRADATIONS)
HELD_OUT_EPOCH = 2**31 - 1  # a fixed "epoch" for the held-out photos' random state


class DegradedPairs(Dataset):
    """(original, K degraded copies, their severities, their kinds) for each photo."""

    def __init__(self, paths: list[Path], spec, cache: InputCache, *, copies: int,
                 seed: int, fixed: bool = False) -> None:
        self.paths, self.spec, self.cache = paths, spec, cache
        self.copies, self.seed, self.fixed = copies, seed, fixed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int):
        try:
            original = self.cache.square(self.paths[index], "photo", self.spec.size)
        except PhotoError:
            return None
        # Held-out photos get the same degradations at every evaluation.
        rng = item_rng(self.seed, HELD_OUT_EPOCH if self.fixed else self.epoch, index)
        if not self.fixed and rng.random() < 0.5:
            original = original[:, :, ::-1]
        kinds = rng.choice(len(KINDS), size=self.copies, replace=self.copies > len(KINDS))
        severities = rng.uniform(0.25, 1.0, size=self.copies)
        copies = [degrade(original, KINDS[k], s, rng) for k, s in zip(kinds, severities,
                                                                       strict=True)]
        stack = np.stack([original, *copies])
        pixels = torch.from_numpy(np.ascontiguousarray(normalise(stack, self.spec)))
        return pixels, torch.tensor(severities, dtype=torch.float32), torch.tensor(kinds)


def collate(items):
    items = [item for item in items if item is not None]
    if not items:
        return None
    return tuple(torch.stack([item[i] for item in items]) for i in range(3))


def mean_scores(model, pixels: torch.Tensor) -> torch.Tensor:
    """(B, 1 + K, 3, S, S) -> (B, 1 + K) predicted mean scores."""
    batch, group = pixels.shape[:2]
    probabilities = model(pixels.flatten(0, 1)).float()
    return (probabilities * SCORES.to(probabilities.device)).sum(-1).view(batch, group)


class SslTask:
    def __init__(self, built, train_paths, val_paths, cache, *, freeze: str, margin: float,
                 copies: int, seed: int) -> None:
        self.name, self.built, self.margin = "ssl", built, margin
        self.model = ScoreTrainee(built.net, apply_freezing(built.net, freeze))
        spec = built.input_spec
        self.train_pairs = DegradedPairs(train_paths, spec, cache, copies=copies, seed=seed)
        self.val_pairs = DegradedPairs(val_paths, spec, cache, copies=len(KINDS), seed=seed,
                                       fixed=True)
        self._fingerprint = {"task": "ssl", "backbone": built.backbone, "freeze": freeze,
                             "margin": margin, "copies": copies,
                             "photos": [str(p) for p in train_paths]}

    def parameter_groups(self):
        return parameter_groups(self.built.net, 1.0)

    def train_set(self):
        return self.train_pairs

    def collate(self, items):
        return collate(items)

    def loss(self, model, batch, device):
        if batch is None:
            return torch.zeros((), device=device, requires_grad=True)
        pixels, severities, _ = batch
        scores = mean_scores(model, pixels.to(device))
        gap = scores[:, :1] - scores[:, 1:]  # original minus each degraded copy
        return torch.relu(self.margin * severities.to(device) - gap).mean()

    def evaluate(self, model, device) -> dict[str, float]:
        wins = {kind: [] for kind in KINDS}
        for index in range(len(self.val_pairs)):
            batch = collate([self.val_pairs[index]])
            if batch is None:
                continue
            scores = mean_scores(model, batch[0].to(device)).cpu()[0]
            for kind, better in zip(batch[2][0].tolist(), (scores[0] > scores[1:]).tolist(),
                                    strict=True):
                wins[KINDS[kind]].append(better)
        everything = [w for values in wins.values() for w in values]
        if not everything:
            return {}
        metrics = {"rank_accuracy": float(np.mean(everything)), "n": len(self.val_pairs)}
        metrics.update({f"rank_accuracy_{k}": float(np.mean(v)) for k, v in wins.items() if v})
        return metrics

    def fingerprint(self):
        return self._fingerprint


def export_backbone(task: SslTask, folder: Path, *, name: str, metrics: dict, hardware: dict,
                    settings: dict, photos: int) -> Path:
    """The pre-trained network, as a folder ``score --init`` (and the model store) reads."""
    from safetensors.torch import save_file

    from train.export import ModelCard, write_card_and_metrics

    folder.mkdir(parents=True, exist_ok=True)
    net = task.built.net.eval().cpu()
    save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()},
              str(folder / "model.safetensors"))
    metadata = {
        "name": name, "task": "backbone", "architecture": f"critique:nima/{task.built.backbone}",
        "description": "self-supervised aesthetic backbone (CALM-style degradation ranking)",
        "licence": "the training photos' terms",
        "trained_on": f"{photos} unrated photos (self-supervised)",
        "extra": {"format": BACKBONE_FORMAT, "backbone": task.built.backbone,
                  "backbone_kwargs": task.built.backbone_kwargs,
                  **task.built.input_spec.to_dict(), "metrics": metrics},
    }
    write_text_atomically(folder / LOCAL_METADATA, json.dumps(metadata, indent=2))
    card = ModelCard(name=name, task="backbone (self-supervised)",
                     summary="Learned to rank photos above degraded copies of themselves; "
                             "start a score model from it with `score --init`. It does not "
                             "score photos by itself.",
                     dataset=f"{photos} unrated photos", samples=photos,
                     licence=metadata["licence"], data_licence="the photographer's own photos",
                     started_from=task.built.started_from, hyper_parameters=settings,
                     hardware=hardware, metrics=metrics)
    write_card_and_metrics(folder, card)
    return folder


def split_photos(folder: Path, *, recursive: bool, val_fraction: float,
                 seed: int) -> tuple[list[Path], list[Path]]:
    """The folder's photos, split by ``seed`` into (to learn from, held out)."""
    from critique_app.core.library.finding import find_photos

    if not folder.is_dir():
        raise CritiqueError(f"{folder}: 'ssl' trains on a folder of photos")
    photos = find_photos(folder, recursive=recursive)
    if len(photos) < 6:
        raise CritiqueError(f"{folder}: {len(photos)} photos found; self-supervised training "
                            "needs at least 6 (try --recursive)")
    order = np.random.default_rng(seed).permutation(len(photos))
    held = max(2, round(val_fraction * len(photos)))
    val_paths = [photos[i] for i in sorted(order[:held])]
    train_paths = [photos[i] for i in sorted(order[held:])]
    return train_paths, val_paths
