"""The NIMA score network: an image backbone and a 10-bin softmax head.

Talebi & Milanfar (2018): predict the distribution of human ratings over
1..10 rather than one number, trained with the earth mover's distance. The
same network, given a saliency, depth or blur map instead of the photo, is a
modality scorer (Lisaius & Wehrwein): it shows which cue drives the score.
"""

from __future__ import annotations

import torch
from torch import nn


class ScoreNet(nn.Module):
    def __init__(self, backbone: nn.Module, dropout: float = 0.2) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(backbone.num_features, 10))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) normalised images -> (B, 10) probabilities of scores 1..10."""
        return torch.softmax(self.logits(images), dim=-1)

    def forward_and_embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The probabilities and the backbone's pooled features the head read (B, D): one
        forward pass for the score and the photo's look (culling compares looks)."""
        features = self.backbone(images)
        return torch.softmax(self.head(features), dim=-1), features


def emd_loss(predicted: torch.Tensor, target: torch.Tensor, r: int = 2) -> torch.Tensor:
    """Earth mover's distance between (B, 10) distributions over ordered bins (NIMA's loss)."""
    cdf_difference = torch.cumsum(predicted, dim=-1) - torch.cumsum(target, dim=-1)
    return cdf_difference.abs().pow(r).mean(dim=-1).pow(1.0 / r).mean()
