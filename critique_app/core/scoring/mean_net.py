"""A score network that predicts one number: an image backbone and a linear head.

What ``python -m train personal`` (without ``--base``) and ``train score --recipe frozen``
write: a ridge regression on the frozen features of the ImageNet EfficientNet-Lite0,
stored as the backbone plus one ``Linear(features, 1)``, so it scores (and exports to ONNX)
as one network. Its metadata says ``"output": "mean"``; a score from it has no histogram.
"""

from __future__ import annotations

import torch
from torch import nn


class MeanScoreNet(nn.Module):
    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.num_features, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) normalised images -> (B,) mean scores."""
        return self.head(self.backbone(images)).squeeze(-1)
