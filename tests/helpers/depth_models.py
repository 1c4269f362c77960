"""Tiny depth models of the real Depth Anything architecture, saved like a download.

Random weights and a small Dinov2 backbone: they load through the app's depth loader
in well under a second, which is what the loading, conversion and scheduling tests
need. ``kind`` is the config's ``depth_estimation_type``: "relative" checkpoints give
disparity (near = large), "metric" ones metres (far = large); both have the model_type
"depth_anything".
"""

from __future__ import annotations

from pathlib import Path


def save_tiny_depth_model(folder: Path, kind: str = "relative", seed: int = 0) -> Path:
    import torch
    from transformers import (
        DepthAnythingConfig,
        DepthAnythingForDepthEstimation,
        Dinov2Config,
        DPTImageProcessor,
    )

    torch.manual_seed(seed)
    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                            intermediate_size=64, image_size=56, patch_size=14,
                            out_features=["stage1", "stage2", "stage3", "stage4"],
                            reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32,
                                 neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16,
                                 head_hidden_size=8, patch_size=14, depth_estimation_type=kind)
    folder = Path(folder)
    DepthAnythingForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessor(size={"height": 56, "width": 56}, keep_aspect_ratio=True,
                      ensure_multiple_of=14).save_pretrained(folder)
    return folder
