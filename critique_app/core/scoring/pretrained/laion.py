"""The LAION aesthetic predictor v2: CLIP ViT-L/14 image embeddings and a small linear head.

Backbone: ``openai/clip-vit-large-patch14`` through transformers'
``CLIPVisionModelWithProjection`` (loaded from the model's ``backbone/`` folder, local files
only, never remote code). Head: the Apache-2.0 file ``sac+logos+ava1-l14-linearMSE.pth``
from christophschuhmann/improved-aesthetic-predictor, five Linear layers
768 -> 1024 -> 128 -> 64 -> 16 -> 1 with dropouts between and no activations (state-dict
keys ``layers.{0,2,4,6,7}``), fed the L2-normalised image embedding. It was fitted with a
mean-squared error to AVA's mean scores: it predicts one number on AVA's 1-10 scale and
no distribution.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
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

ARCHITECTURE = "critique:laion-aesthetic-v2"
BACKBONE = "backbone"
HEAD_FILE = "head/sac+logos+ava1-l14-linearMSE.pth"
EMBEDDING = 768  # CLIP ViT-L/14's projection size: what the head was fitted on


class AestheticHead(nn.Module):
    """LAION's MLP (linear layers only: its "MLP" has no activations)."""

    def __init__(self, embedding: int = EMBEDDING) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(embedding, 1024), nn.Dropout(0.2),
            nn.Linear(1024, 128), nn.Dropout(0.2),
            nn.Linear(128, 64), nn.Dropout(0.1),
            nn.Linear(64, 16),
            nn.Linear(16, 1),
        )

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, 768) L2-normalised embeddings -> (B,) mean scores."""
        return self.layers(embeddings).squeeze(-1)


class LaionAesthetic(nn.Module):
    def __init__(self, vision: nn.Module, head: AestheticHead) -> None:
        super().__init__()
        self.vision = vision
        self.head = head

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, 224, 224) CLIP-normalised images -> (B, 768) unit-length embeddings."""
        return F.normalize(self.vision(pixel_values=images).image_embeds.float(), dim=-1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, 224, 224) -> (B,) predicted mean scores on AVA's 1-10 scale."""
        return self.head(self.embed(images))

    def forward_and_embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The means and the CLIP embeddings they came from (B, 768), in one pass."""
        embeds = self.embed(images)
        return self.head(embeds), embeds


def load_head(path: Path) -> AestheticHead:
    """The head from its published file, strictly (every key, every shape)."""
    head = AestheticHead()
    load_strictly(head, tensors_in(load_torch_weights(path), path), path,
                  "LAION aesthetic head (layers.0 to layers.7, 768 -> 1)")
    return head.eval()


def load_backbone(folder: Path) -> nn.Module:
    """CLIP's vision tower with its projection, from local files only (the Hub's
    ``openai/clip-vit-large-patch14`` checkpoint is the whole CLIP model: its text tower is
    left unread)."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    folder = Path(folder)
    try:
        raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelError("the CLIP backbone is missing or damaged (no readable config.json)",
                         path=folder) from None
    if raw.get("model_type") not in ("clip", "clip_vision_model"):
        raise ModelError(f"the backbone is a '{raw.get('model_type')}' model, not CLIP",
                         path=folder)
    try:
        config = CLIPVisionConfig.from_pretrained(folder, local_files_only=True)
        if raw.get("model_type") == "clip" and "projection_dim" in raw:
            config.projection_dim = raw["projection_dim"]  # the whole model's projection
        with _quiet_transformers():  # the text tower's keys, unused by design, are not news
            vision, info = CLIPVisionModelWithProjection.from_pretrained(
                folder, config=config, local_files_only=True, dtype=torch.float32,
                output_loading_info=True)
    except (OSError, ValueError, RuntimeError) as error:
        lines = str(error).strip().splitlines() or [type(error).__name__]
        raise ModelError(f"the CLIP backbone will not load: {lines[0]}", path=folder) from None
    missing = sorted(info.get("missing_keys") or []) + sorted(info.get("mismatched_keys") or [])
    if missing:  # transformers would fill them with random numbers: refuse instead
        names = ", ".join(str(k) for k in missing[:3])
        raise ModelError(f"the CLIP backbone's weights lack {len(missing)} tensors of the "
                         f"vision tower ({names}...)", path=folder)
    projection = vision.config.projection_dim
    if projection != EMBEDDING:
        raise ModelError(f"the CLIP backbone gives {projection}-d embeddings; the LAION head "
                         f"needs ViT-L/14's {EMBEDDING}", path=folder)
    return vision.eval()


@contextmanager
def _quiet_transformers():
    """transformers' load report and progress bar off while the backbone loads (what matters
    in them, missing vision weights, is checked and said by :func:`load_backbone`)."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_laion(folder: Path) -> LaionAesthetic:
    """The whole predictor from an installed model folder (``backbone/`` and ``head/``)."""
    folder = Path(folder)
    return LaionAesthetic(load_backbone(folder / BACKBONE), load_head(folder / HEAD_FILE)).eval()
