"""A score network that predicts one number: an image backbone and a linear head.

What ``python -m train personal`` (without ``--base``) and ``train score --recipe frozen``
write: a ridge regression on frozen features of the ImageNet EfficientNet-Lite0, stored as
the backbone plus one ``Linear(features, 1)``, so it scores (and exports to ONNX) as one
network. Its metadata says ``"output": "mean"``; a score from it has no histogram.

``features`` (the metadata's ``extra.features``) says what the head reads:
- ``"pooled"``: the backbone's global average pooled output (1280 for Lite0);
- ``"stages"``: the mean and standard deviation over the image of every block's output
  (low-level cues: sharpness, noise, exposure, colour) followed by the pooled output (what
  the photo shows): 2848 numbers for Lite0.
"""

from __future__ import annotations

import torch
from torch import nn

FEATURES = ("pooled", "stages")


def stage_features(backbone: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(B, D) "stages" features of a timm EfficientNet (conv_stem, bn1, blocks, conv_head,
    bn2): per block, the spatial mean and standard deviation; then the pooled output."""
    h = backbone.bn1(backbone.conv_stem(images))
    parts = []
    for block in backbone.blocks:
        h = block(h)
        parts += [h.mean((2, 3)), h.std((2, 3))]
    h = backbone.bn2(backbone.conv_head(h))
    parts.append(h.mean((2, 3)))
    return torch.cat(parts, dim=1)


def feature_size(backbone: nn.Module, features: str, input_size: int = 64) -> int:
    if features == "pooled":
        return int(backbone.num_features)
    with torch.no_grad():
        was = backbone.training
        backbone.eval()
        size = stage_features(backbone, torch.zeros(1, 3, input_size, input_size)).shape[1]
        backbone.train(was)
    return int(size)


class MeanScoreNet(nn.Module):
    def __init__(self, backbone: nn.Module, features: str = "pooled") -> None:
        super().__init__()
        if features not in FEATURES:
            raise ValueError(f"features must be one of {FEATURES}, not {features!r}")
        self.backbone = backbone
        self.features = features
        self.head = nn.Linear(feature_size(backbone, features), 1)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        if self.features == "stages":
            return stage_features(self.backbone, images)
        return self.backbone(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) normalised images -> (B,) mean scores."""
        return self.head(self.embed(images)).squeeze(-1)

    def forward_and_embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The means and the backbone's pooled output (the last part of "stages" features)."""
        features = self.embed(images)
        pooled = features[:, -int(self.backbone.num_features):]
        return self.head(features).squeeze(-1), pooled
