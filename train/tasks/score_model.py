"""Building the score network to train: backbone choice, starting weights, freezing.

Transfer learning with variable freezing, as NIMA and Explaining-IAA do:
``backbone`` (train only the head), ``last:N`` (also the last N stages of the
backbone), ``none`` (everything). Frozen layers stay in eval mode, so their
batch-norm statistics keep what ImageNet (or the starting model) taught them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from critique_app.core.scoring.backbone import (
    LITE0,
    LITE0_INPUT,
    LITE0_STORE_NAME,
    InputSpec,
    create_backbone,
    lite0_from_folder,
)
from critique_app.core.scoring.model import ScoreNet
from critique_app.core.scoring.package import FORMAT as SCORE_FORMAT
from critique_app.core.scoring.package import load_score_model
from critique_app.core.store.store import LOCAL_METADATA
from critique_app.core.util.errors import ModelError

BACKBONE_FORMAT = "critique-backbone/1"  # what `ssl` writes


@dataclass
class BuiltNet:
    net: ScoreNet
    backbone: str  # timm architecture name
    input_spec: InputSpec
    backbone_kwargs: dict
    started_from: str  # for the model card


def build_score_net(backbone: str = "lite0", *, init: Path | None = None, input_size: int = 224,
                    dropout: float = 0.2, store=None) -> BuiltNet:
    """``init``: a score model folder or an ``ssl`` backbone folder to start from;
    else ``backbone``: "lite0" (ImageNet weights from the model store) or any timm
    architecture (random initialisation: no weights are downloaded)."""
    if init is not None:
        return _from_folder(Path(init), dropout)
    if backbone in ("lite0", LITE0):
        from critique_app.core.store.store import ModelStore

        store = store or ModelStore()
        folder = store.path(LITE0_STORE_NAME)
        if folder is None:
            raise ModelError(f"the ImageNet backbone is not installed: run 'critique models pull "
                             f"{LITE0_STORE_NAME}' (or choose --backbone / --init)")
        spec = InputSpec(input_size, LITE0_INPUT.mean, LITE0_INPUT.std)
        return BuiltNet(ScoreNet(lite0_from_folder(folder), dropout), LITE0, spec, {},
                        f"{LITE0_STORE_NAME} (ImageNet)")
    spec = InputSpec(input_size, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    return BuiltNet(ScoreNet(create_backbone(backbone), dropout), backbone, spec, {},
                    f"{backbone}, randomly initialised")


def _from_folder(folder: Path, dropout: float) -> BuiltNet:
    try:
        metadata = json.loads((folder / LOCAL_METADATA).read_text(encoding="utf-8"))
        extra = metadata["extra"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ModelError(f"{folder} is not a model folder written by the trainer") from None
    if extra.get("format") == SCORE_FORMAT:
        net, info = load_score_model(folder)
        net.head[0].p = dropout
        return BuiltNet(net, info.backbone, info.input, info.backbone_kwargs,
                        f"score model {info.name} ({info.training.describe()})")
    if extra.get("format") == BACKBONE_FORMAT:
        from safetensors.torch import load_file

        kwargs = dict(extra.get("backbone_kwargs", {}))
        net = ScoreNet(create_backbone(extra["backbone"], **kwargs), dropout)
        net.load_state_dict(load_file(str(folder / "model.safetensors")), strict=True)
        return BuiltNet(net, extra["backbone"], InputSpec.from_dict(extra), kwargs,
                        f"self-supervised backbone {metadata.get('name', folder.name)}")
    raise ModelError(f"{folder}: cannot start a score model from a {extra.get('format')!r} model")


BLOCK_CONTAINERS = ("blocks", "stages", "layers")  # timm's names for the main body


def backbone_parts(backbone: nn.Module) -> tuple[list[nn.Module], list[nn.Module], list[nn.Module]]:
    """(stem layers, blocks, layers after the blocks) of a timm backbone, in order."""
    before: list[nn.Module] = []
    blocks: list[nn.Module] = []
    after: list[nn.Module] = []
    for name, child in backbone.named_children():
        if name in BLOCK_CONTAINERS and not blocks:
            blocks = list(child)
        elif name.startswith("layer") and name[5:].isdigit():  # ResNet's layer1..layer4
            blocks.append(child)
        elif any(p.numel() for p in child.parameters()):
            (after if blocks else before).append(child)
    return before, blocks, after


def apply_freezing(net: ScoreNet, mode: str) -> list[nn.Module]:
    """Freeze per ``mode``; returns the frozen layers. ``last:N`` trains the last N
    blocks plus the layers after them (the head convolution and its norm)."""
    before, blocks, after = backbone_parts(net.backbone)
    if mode == "none":
        trainable = before + blocks + after
    elif mode == "backbone":
        trainable = []
    elif mode.startswith("last:") and mode[5:].isdigit():
        count = int(mode[5:])
        trainable = (blocks[len(blocks) - count:] + after) if count else []
    else:
        raise ValueError(f"--freeze must be 'backbone', 'last:N' or 'none', not {mode!r}")
    net.requires_grad_(False)
    for layer in trainable:
        layer.requires_grad_(True)
    net.head.requires_grad_(True)
    return [layer for layer in before + blocks + after if layer not in trainable]


class ScoreTrainee(nn.Module):
    """The score network in training, with its frozen stages kept in eval mode."""

    def __init__(self, net: ScoreNet, frozen: list[nn.Module]) -> None:
        super().__init__()
        self.net = net
        self._frozen = frozen

    def train(self, mode: bool = True):
        super().train(mode)
        for stage in self._frozen:
            stage.eval()
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


def parameter_groups(net: ScoreNet, backbone_lr_scale: float) -> list[dict]:
    """The head at the full rate; trainable backbone layers at a smaller one."""
    head = [p for p in net.head.parameters() if p.requires_grad]
    body = [p for p in net.backbone.parameters() if p.requires_grad]
    groups = [{"params": head}]
    if body:
        groups.append({"params": body, "lr_scale": backbone_lr_scale})
    return groups


def score_memory_by_batch(model, input_size: int, *, amp: bool, gradient_checkpointing: bool):
    """Peak GPU memory of training a score network on square inputs, per batch size."""
    from train.memory import memory_by_batch

    sample = torch.zeros(1, 3, input_size, input_size)
    return memory_by_batch(model, (sample,), amp=amp,
                           gradient_checkpointing=gradient_checkpointing,
                           loss_fn=lambda out: out.float().sum())
