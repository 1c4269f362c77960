"""`score` and `modality`: a NIMA score distribution learned from rated photos.

The loss is NIMA's earth mover's distance between the predicted and the rated
10-bin distributions; Explaining-IAA's extra terms on the distribution's mean
and standard deviation are options (``mean_weight``, ``std_weight``). The
``modality`` task is the same network trained on the saliency, depth or blur
map of each photo instead of its pixels, so the app can show which cue drives
a score.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from critique_app.core.scoring.model import emd_loss
from critique_app.core.util.errors import CritiqueError
from train.data.records import ScoreRow
from train.metrics.scores import score_metrics
from train.seed import item_rng
from train.tasks.images import InputCache, normalise
from train.tasks.score_model import (
    BuiltNet,
    ScoreTrainee,
    apply_freezing,
    parameter_groups,
)

SCORES = torch.arange(1, 11, dtype=torch.float32)


@dataclass
class ScoreOptions:
    modality: str = "photo"  # photo, saliency, depth or blur
    freeze: str = "last:2"  # backbone, last:N or none
    backbone_lr_scale: float = 0.1
    emd_r: int = 2
    mean_weight: float = 0.0  # Explaining-IAA: + weight × (mean error / 9)²
    std_weight: float = 0.0  # Explaining-IAA: + weight × (std error / 4.5)²
    flip: bool = True  # random horizontal flips (composition-neutral)
    depth_model: str | None = None  # for the depth modality


class ScoreSamples(Dataset):
    """(normalised input, target distribution) per row; None for an unreadable photo."""

    def __init__(self, rows: list[ScoreRow], modality: str, built: BuiltNet, cache: InputCache,
                 *, flip: bool, seed: int, depth_model=None) -> None:
        self.rows, self.modality, self.spec = rows, modality, built.input_spec
        self.cache, self.flip, self.seed, self.depth_model = cache, flip, seed, depth_model
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def square(self, index: int) -> np.ndarray:
        row = self.rows[index]
        return self.cache.square(row.image, self.modality, self.spec.size, self.depth_model)

    def __getitem__(self, index: int):
        try:
            square = self.square(index)
        except CritiqueError:
            return None
        if self.flip and item_rng(self.seed, self.epoch, index).random() < 0.5:
            square = square[:, :, ::-1]
        pixels = torch.from_numpy(np.ascontiguousarray(normalise(square, self.spec)))
        return pixels, torch.tensor(self.rows[index].distribution, dtype=torch.float32)


def collate(items: list):
    items = [item for item in items if item is not None]
    if not items:
        return None
    return torch.stack([i[0] for i in items]), torch.stack([i[1] for i in items])


def prepare_inputs(samples: ScoreSamples, workers: int = 4) -> list[tuple[ScoreRow, str]]:
    """Decode (and cache) every input once before training; returns the rows that
    failed, with why, so they are reported up front instead of mid-run."""
    def attempt(index: int):
        try:
            samples.square(index)
            return None
        except CritiqueError as error:
            return samples.rows[index], str(error)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return [failure for failure in pool.map(attempt, range(len(samples))) if failure]


def score_loss(probabilities: torch.Tensor, target: torch.Tensor, options: ScoreOptions):
    probabilities = probabilities.float()
    loss = emd_loss(probabilities, target, r=options.emd_r)
    if options.mean_weight or options.std_weight:
        scores = SCORES.to(probabilities.device)
        mean_p, mean_t = (probabilities * scores).sum(-1), (target * scores).sum(-1)
        std_p = ((probabilities * (scores - mean_p[:, None]) ** 2).sum(-1) + 1e-8).sqrt()
        std_t = ((target * (scores - mean_t[:, None]) ** 2).sum(-1) + 1e-8).sqrt()
        loss = loss + options.mean_weight * (((mean_p - mean_t) / 9.0) ** 2).mean()
        loss = loss + options.std_weight * (((std_p - std_t) / 4.5) ** 2).mean()
    return loss


def predict(net, samples: ScoreSamples, device, batch_size: int = 32):
    """(predicted, target) distributions for every readable sample, in order."""
    predicted, targets = [], []
    flip, samples.flip = samples.flip, False
    try:
        for start in range(0, len(samples), batch_size):
            batch = collate([samples[i] for i in range(start, min(len(samples),
                                                                   start + batch_size))])
            if batch is None:
                continue
            with torch.no_grad():
                predicted.append(net(batch[0].to(device)).float().cpu())
            targets.append(batch[1])
    finally:
        samples.flip = flip
    if not predicted:
        return np.zeros((0, 10)), np.zeros((0, 10))
    return torch.cat(predicted).numpy(), torch.cat(targets).numpy()


class ScoreTask:
    """The loop's view of score training (see :class:`train.loop.TrainTask`)."""

    def __init__(self, built: BuiltNet, train_rows: list[ScoreRow], val_rows: list[ScoreRow],
                 options: ScoreOptions, cache: InputCache, *, seed: int,
                 data_fingerprint: str, name: str = "score") -> None:
        self.name, self.built, self.options = name, built, options
        frozen = apply_freezing(built.net, options.freeze)
        self.model = ScoreTrainee(built.net, frozen)
        depth_model = options.depth_model
        self.train_samples = ScoreSamples(train_rows, options.modality, built, cache,
                                          flip=options.flip, seed=seed, depth_model=depth_model)
        self.val_samples = ScoreSamples(val_rows, options.modality, built, cache, flip=False,
                                        seed=seed, depth_model=depth_model)
        self._fingerprint = {"task": name, "data": data_fingerprint,
                             "backbone": built.backbone, **asdict(options)}

    def parameter_groups(self) -> list[dict]:
        return parameter_groups(self.built.net, self.options.backbone_lr_scale)

    def train_set(self):
        return self.train_samples

    def collate(self, items):
        return collate(items)

    def loss(self, model, batch, device):
        if batch is None:  # every photo of this batch was unreadable
            return torch.zeros((), device=device, requires_grad=True)
        images, target = batch
        return score_loss(model(images.to(device, non_blocking=True)), target.to(device),
                          self.options)

    def evaluate(self, model, device) -> dict[str, float]:
        predicted, target = predict(model, self.val_samples, device)
        return score_metrics(predicted, target) if len(predicted) else {}

    def fingerprint(self) -> dict:
        return self._fingerprint


def data_fingerprint(rows: list[ScoreRow]) -> str:
    """A short hash of the training rows (paths and targets), for resume checks."""
    import hashlib

    digest = hashlib.sha1()
    for row in rows:
        digest.update(f"{row.image}|{','.join(f'{p:.5f}' for p in row.distribution)}\n".encode())
    return digest.hexdigest()[:16]
