"""Small heads on frozen embeddings: what ``--backbone clip-vit-l14`` trains.

- ``distribution`` (``score``): NIMA's 10-bin distribution from an MLP, EMD loss (plus
  Explaining-IAA's mean and spread terms when asked), trained by the shared loop.
- ``laion`` (``personal`` when LAION aesthetic v2 is installed): LAION's own head,
  fine-tuned as a regression on the photographer's ratings mapped to its 1-10 scale, held
  near where it started (an L2 penalty towards the starting weights, "L2-SP") and with
  early stopping: the epoch kept is the one with the lowest error on an early-stopping
  split carved from the training photos (the held-out split only reports).
- ``linear`` (``personal`` otherwise): ridge regression, its strength chosen by K-fold
  cross-validation on the training photos; closed form, in well under a second.

Embeddings are computed once (:mod:`train.tasks.embeddings`) and live in memory here, so
an epoch over thousands of photos takes milliseconds on a CPU.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from train.metrics.scores import binary_accuracy, plcc, score_metrics, srcc
from train.tasks.score import ScoreOptions, score_loss

RIDGE_ALPHAS = tuple(10.0 ** k for k in np.arange(-3, 3.01, 0.5))


def mean_metrics(predicted: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """SRCC, PLCC, accuracy at 5 and RMSE of mean scores on 1-10, and n."""
    predicted, target = np.asarray(predicted, np.float64), np.asarray(target, np.float64)
    rmse = float(np.sqrt(np.mean((predicted - target) ** 2))) if len(target) else math.nan
    return {"srcc": srcc(predicted, target), "plcc": plcc(predicted, target),
            "accuracy": binary_accuracy(predicted, target), "rmse": rmse, "n": len(target)}


def srcc_interval(predicted: np.ndarray, target: np.ndarray, *, draws: int = 1000,
                  seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """A bootstrap interval of the SRCC (photos drawn with replacement)."""
    predicted, target = np.asarray(predicted), np.asarray(target)
    if len(target) < 3:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        pick = rng.integers(0, len(target), len(target))
        value = srcc(predicted[pick], target[pick])
        if math.isfinite(value):
            values.append(value)
    if not values:
        return math.nan, math.nan
    low, high = np.quantile(values, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(low), float(high)


def means_of(distributions: np.ndarray) -> np.ndarray:
    return np.asarray(distributions, np.float64) @ np.arange(1, 11, dtype=np.float64)


@dataclass
class HeadData:
    """Embeddings (N, D) and targets: (N, 10) distributions or (N,) means."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


class _Rows(torch.utils.data.Dataset):
    def __init__(self, data: HeadData) -> None:
        self.x = torch.from_numpy(np.ascontiguousarray(data.x, np.float32))
        self.y = torch.from_numpy(np.ascontiguousarray(data.y, np.float32))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int):
        return self.x[index], self.y[index]


def _collate(items):
    return torch.stack([i[0] for i in items]), torch.stack([i[1] for i in items])


def predict_head(head: nn.Module, x: np.ndarray, device="cpu", batch: int = 1024) -> np.ndarray:
    was_training = head.training
    head.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch):
            chunk = torch.from_numpy(np.ascontiguousarray(x[start:start + batch], np.float32))
            out.append(head(chunk.to(device)).float().cpu().numpy())
    head.train(was_training)
    return np.concatenate(out) if out else np.zeros((0,))


@dataclass
class HeadTask:
    """The shared loop's view of a head on embeddings (see :class:`train.loop.TrainTask`).

    ``output``: "distribution" (EMD on 10 bins) or "mean" (squared error on 1-10).
    ``anchor``: weight of the L2 penalty towards the starting weights (L2-SP; 0: none).
    Every evaluation also measures the early-stopping split and keeps the best weights."""

    name: str
    model: nn.Module
    output: str
    train: HeadData
    stop: HeadData
    val: HeadData
    options: ScoreOptions = field(default_factory=ScoreOptions)
    anchor: float = 0.0
    data_fingerprint: str = ""
    best_loss: float = math.inf
    best_epoch: int = 0
    best_state: dict | None = None
    evaluations: int = 0

    def __post_init__(self) -> None:
        self._start = {k: v.detach().clone() for k, v in self.model.named_parameters()}

    def parameter_groups(self) -> list[dict]:
        return [{"params": [p for p in self.model.parameters() if p.requires_grad]}]

    def train_set(self):
        return _Rows(self.train)

    def collate(self, items):
        return _collate(items)

    def _loss(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.output == "distribution":
            return score_loss(predicted, target, self.options)
        return ((predicted.float() - target) ** 2).mean()

    def loss(self, model, batch, device):
        x, y = batch
        loss = self._loss(model(x.to(device)), y.to(device))
        if self.anchor:
            module = getattr(model, "module", model)  # DDP wraps it
            drift = sum(((p - self._start[n].to(p.device)) ** 2).sum()
                        for n, p in module.named_parameters())
            loss = loss + self.anchor * drift
        return loss

    def held_out_loss(self, model, data: HeadData, device) -> float:
        if not len(data):
            return math.nan
        predicted = torch.from_numpy(predict_head(model, data.x, device))
        return float(self._loss(predicted, torch.from_numpy(data.y.astype(np.float32))))

    def metrics(self, predicted: np.ndarray, target: np.ndarray) -> dict[str, float]:
        if self.output == "distribution":
            return score_metrics(predicted, target)
        return mean_metrics(predicted, target)

    def evaluate(self, model, device) -> dict[str, float]:
        self.evaluations += 1
        stop_loss = self.held_out_loss(model, self.stop, device)
        if math.isfinite(stop_loss) and stop_loss < self.best_loss:
            self.best_loss, self.best_epoch = stop_loss, self.evaluations
            self.best_state = copy.deepcopy({k: v.detach().cpu()
                                             for k, v in model.state_dict().items()})
        metrics = self.metrics(predict_head(model, self.val.x, device), self.val.y)
        return {**metrics, "early_stopping_loss": stop_loss}

    def keep_best(self) -> int:
        """Load the weights of the best evaluation; returns its epoch (0: none was better)."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return self.best_epoch

    def fingerprint(self) -> dict:
        return {"task": self.name, "output": self.output, "anchor": self.anchor,
                "data": self.data_fingerprint}


@dataclass
class RidgeFit:
    weights: np.ndarray  # (D,)
    bias: float
    alpha: float
    cv_rmse: dict[float, float]  # alpha -> cross-validated RMSE


def _ridge_solve(x: np.ndarray, y: np.ndarray, alphas) -> list[tuple[np.ndarray, float]]:
    """One SVD, every strength. The SVD runs in torch on one thread: a multi-threaded
    LAPACK on two busy cores spins (measured: numpy's OpenBLAS took 8 s for a 240 x 1280
    SVD that one thread does in 0.06 s)."""
    mean_x, mean_y = x.mean(axis=0), y.mean()
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        u, s, vt = (t.numpy() for t in torch.linalg.svd(
            torch.from_numpy(np.ascontiguousarray(x - mean_x, np.float64)),
            full_matrices=False))
    finally:
        torch.set_num_threads(previous)
    uty = u.T @ (y - mean_y)
    fits = []
    for alpha in alphas:
        w = vt.T @ (s / (s ** 2 + alpha) * uty)
        fits.append((w, float(mean_y - mean_x @ w)))
    return fits


def fit_ridge(x: np.ndarray, y: np.ndarray, *, alphas=RIDGE_ALPHAS, folds: int = 5,
              seed: int = 0) -> RidgeFit:
    """Ridge regression of ``y`` on ``x``; the strength by ``folds``-fold cross-validation."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    folds = max(2, min(folds, len(y)))
    order = np.random.default_rng(seed).permutation(len(y))
    errors = {alpha: 0.0 for alpha in alphas}
    for fold in range(folds):
        held = order[fold::folds]
        kept = np.setdiff1d(order, held)
        for alpha, (w, b) in zip(alphas, _ridge_solve(x[kept], y[kept], alphas), strict=True):
            errors[alpha] += float(((x[held] @ w + b - y[held]) ** 2).sum())
    cv_rmse = {alpha: math.sqrt(total / len(y)) for alpha, total in errors.items()}
    best = min(alphas, key=lambda a: (cv_rmse[a], -a))
    (w, b), = _ridge_solve(x, y, [best])
    return RidgeFit(w, b, best, cv_rmse)
