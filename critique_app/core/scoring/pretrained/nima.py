"""NIMA on AVA with an InceptionResNetV2 backbone, as pyiqa retrained it (weights only).

Talebi & Milanfar (2018). The network is written here with timm (pyiqa's own code is
under a non-commercial licence and is not used): timm's ``inception_resnet_v2`` with
``features_only=True`` as ``base_model``, the last feature map (1536 channels) average
pooled, ``classifier`` = Flatten, Dropout, Linear(1536, 10), then a softmax: a
distribution over the scores 1..10. The published file holds the state dict under
``"params"``; it loads strictly. The weights are CC BY-NC-SA 4.0 (non-commercial).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from critique_app.core.scoring.pretrained.weights import (
    load_strictly,
    load_torch_weights,
    tensors_in,
)
from critique_app.core.util.errors import ModelError

ARCHITECTURE = "critique:nima-inception-resnet-v2"
BACKBONE = "inception_resnet_v2"
FEATURES = 1536


class Nima(nn.Module):
    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        import timm

        self.base_model = timm.create_model(BACKBONE, pretrained=False, features_only=True)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout),
                                        nn.Linear(FEATURES, 10))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, 299, 299) images normalised with mean = std = 0.5 -> (B, 10) probabilities."""
        return self.forward_and_embed(images)[0]

    def forward_and_embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The probabilities and the pooled backbone features (B, 1536), in one pass."""
        last = self.base_model(images)[-1]
        pooled = F.adaptive_avg_pool2d(last, 1)
        return torch.softmax(self.classifier(pooled).float(), dim=-1), pooled.flatten(1)


def weights_file(folder: Path) -> Path:
    """The one ``.pth`` file of an installed NIMA folder."""
    found = sorted(Path(folder).glob("*.pth"))
    if len(found) != 1:
        raise ModelError("a NIMA model folder holds one .pth weights file, found "
                         f"{len(found)}", path=folder)
    return found[0]


def load_nima(folder: Path) -> Nima:
    path = weights_file(folder)
    state = tensors_in(load_torch_weights(path), path, "params")
    model = Nima()
    load_strictly(model, state, path, "NIMA InceptionResNetV2 network")
    return model.eval()
