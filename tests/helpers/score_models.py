"""Tiny score models trained in-process, so the scoring chain runs without network.

The synthetic task has a known answer: brighter photos are rated higher. A
model that has learned it proves that training wrote the weights the scorer
later uses (a random or untrained head could not rank by brightness).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import torch

from critique_app.core.scoring.backbone import InputSpec, create_backbone
from critique_app.core.scoring.model import ScoreNet, emd_loss
from critique_app.core.scoring.package import Training, save_score_model

TINY_BACKBONE = "test_efficientnet"
TINY_INPUT = InputSpec(64, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def brightness_target(brightness: np.ndarray) -> torch.Tensor:
    """A 10-bin distribution centred on 1 + 9 * brightness."""
    centres = 1.0 + 9.0 * torch.as_tensor(brightness, dtype=torch.float32)[:, None]
    bins = torch.arange(1, 11, dtype=torch.float32)[None, :]
    target = torch.exp(-0.5 * ((bins - centres) / 1.0) ** 2)
    return target / target.sum(dim=1, keepdim=True)


def train_tiny_scorer(steps: int = 60, seed: int = 0) -> ScoreNet:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = ScoreNet(create_backbone(TINY_BACKBONE), dropout=0.0)
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    net.train()
    for _ in range(steps):
        brightness = rng.uniform(0.05, 0.95, size=16).astype(np.float32)
        texture = rng.normal(0, 0.08, size=(16, 3, 64, 64)).astype(np.float32)
        pixels = np.clip(brightness[:, None, None, None] + texture, 0, 1)
        images = torch.from_numpy((pixels - 0.5) / 0.5)
        loss = emd_loss(net(images), brightness_target(brightness))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return net.eval()


def save_tiny_scorer(folder: Path, *, name: str = "tiny-score", modality: str = "photo",
                     trained: bool = True, steps: int = 60) -> Path:
    net = train_tiny_scorer(steps=steps)
    training = Training(
        dataset="synthetic brightness ramp (tests)",
        samples=16 * steps,
        epochs=1.0,
        finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        metrics={"train_emd": 0.0},
    ) if trained else None
    return save_score_model(net, folder, name=name, backbone=TINY_BACKBONE, modality=modality,
                            input_spec=TINY_INPUT, training=training)
