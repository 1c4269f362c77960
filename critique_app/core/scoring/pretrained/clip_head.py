"""Score models that are a small head on frozen CLIP ViT-L/14 image embeddings.

``python -m train score|personal --backbone clip-vit-l14`` writes them: the head learns
from L2-normalised CLIP embeddings, computed once per photo. The folder holds the head
only (``head.safetensors``, a few MB) and ``critique_model.json``; the 1.7 GB backbone is
not copied: the metadata names the store model whose ``backbone/`` it uses
(``extra.backbone_model``, "laion-aesthetic-v2"), and scoring loads it from there. Without
that model installed the head cannot score, and says so with the pull command.

Heads (``extra.head``):
- ``distribution``: Linear -> GELU -> Dropout -> Linear(10), softmax: NIMA's 10 bins;
- ``laion``: LAION's aesthetic head (768 -> 1024 -> 128 -> 64 -> 16 -> 1), fine-tuned;
- ``linear``: one Linear(768, 1) (a ridge regression's weights).
The last two give one mean per photo, no distribution.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from critique_app.core.scoring.backbone import InputSpec
from critique_app.core.scoring.package import Training, training_record
from critique_app.core.scoring.preprocess import preprocess_version
from critique_app.core.scoring.pretrained.laion import EMBEDDING, AestheticHead, load_backbone
from critique_app.core.scoring.pretrained.registry import ARCHITECTURES, CLIP_HEAD_ARCHITECTURES
from critique_app.core.scoring.pretrained.scorer import (
    PretrainedInfo,
    PretrainedScorer,
    files_digest,
    resolve_device,
)
from critique_app.core.store.store import LOCAL_METADATA
from critique_app.core.util.errors import ModelError
from critique_app.core.util.files import atomic_path, write_text_atomically

log = logging.getLogger("critique.scoring")
FORMAT = "critique-clip-head/1"
BACKBONE = "clip-vit-l14"  # the --backbone name
BACKBONE_MODEL = "laion-aesthetic-v2"  # the store model whose backbone/ it is
BACKBONE_FOLDER = "backbone"
ARCHITECTURE = CLIP_HEAD_ARCHITECTURES[0]
WEIGHTS = "head.safetensors"
INPUT = ARCHITECTURES["critique:laion-aesthetic-v2"].input  # CLIP's crop, as LAION scores
BINS = 10


class DistributionHead(nn.Module):
    """NIMA's head on an embedding: (B, 768) -> (B, 10) probabilities of scores 1..10."""

    def __init__(self, embedding: int = EMBEDDING, hidden: int = 512,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(embedding, hidden), nn.GELU(), nn.Dropout(dropout),
                                    nn.Linear(hidden, BINS))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.layers(embeddings).float(), dim=-1)


class LinearHead(nn.Module):
    """One linear map: (B, 768) -> (B,) means."""

    def __init__(self, embedding: int = EMBEDDING) -> None:
        super().__init__()
        self.linear = nn.Linear(embedding, 1)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.linear(embeddings).squeeze(-1)


HEADS = {"distribution": DistributionHead, "laion": AestheticHead, "linear": LinearHead}
OUTPUTS = {"distribution": "distribution", "laion": "mean", "linear": "mean"}


def build_head(kind: str, **kwargs) -> nn.Module:
    try:
        return HEADS[kind](**kwargs)
    except KeyError:
        raise ModelError(f"unknown CLIP head '{kind}' (known: {', '.join(HEADS)})") from None


@dataclass(frozen=True)
class ClipHeadInfo:
    name: str
    head: str  # a key of HEADS
    head_kwargs: dict
    output: str  # "distribution" | "mean"
    scale: str
    input: InputSpec
    backbone: str
    backbone_model: str
    training: Training
    folder: Path
    backbone_digest: str | None = None  # the backbone files' digest it was trained on
    modality: str = "photo"
    card: dict = field(default_factory=dict)

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS


def _metadata(folder: Path) -> dict | None:
    try:
        metadata = json.loads((Path(folder) / LOCAL_METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return metadata if isinstance(metadata, dict) else None


def is_clip_head(folder: Path) -> bool:
    """Whether ``folder`` holds a CLIP-head score model (cheap: reads the metadata only)."""
    metadata = _metadata(folder)
    extra = metadata.get("extra") if metadata else None
    return isinstance(extra, dict) and extra.get("format") == FORMAT


def save_clip_head(head: nn.Module, folder: Path, *, name: str, kind: str, head_kwargs: dict,
                   training: Training, scale: str = "1-10", licence: str = "Apache-2.0",
                   backbone_digest: str | None = None, description: str = "") -> Path:
    """Write a CLIP-head score model folder (the trainer calls this)."""
    from safetensors.torch import save_file

    if training is None or training.samples <= 0:
        raise ValueError("a CLIP head is saved only with its training record")
    output = OUTPUTS[kind]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu().float() for k, v in head.state_dict().items()}
    with atomic_path(folder / WEIGHTS) as temporary:
        save_file(state, str(temporary))
    predicts = "a 10-bin score distribution" if output == "distribution" else "a mean score"
    metadata = {
        "name": name,
        "task": "score",
        "architecture": ARCHITECTURE,
        "description": description or (
            f"{predicts} from CLIP ViT-L/14 image embeddings; uses the backbone of "
            f"{BACKBONE_MODEL} (not copied: 'critique models pull {BACKBONE_MODEL}')"),
        "licence": licence,
        "trained_on": training.describe(),
        "card": {"predicts": output, "scale": scale,
                 "input": f"{INPUT.size} px: shorter side, centre crop (CLIP ViT-L/14 of "
                          f"{BACKBONE_MODEL})"},
        "extra": {
            "format": FORMAT,
            "backbone": BACKBONE,
            "backbone_model": BACKBONE_MODEL,
            "backbone_digest": backbone_digest,
            "head": kind,
            "head_kwargs": dict(head_kwargs),
            "output": output,
            "scale": scale,
            "modality": "photo",
            **INPUT.to_dict(),
            "training": training.__dict__,
        },
    }
    write_text_atomically(folder / LOCAL_METADATA, json.dumps(metadata, indent=2))
    return folder


def read_clip_head_info(folder: Path) -> ClipHeadInfo:
    folder = Path(folder)
    metadata = _metadata(folder)
    extra = metadata.get("extra") if metadata else None
    if not isinstance(extra, dict) or extra.get("format") != FORMAT:
        raise ModelError(f"{folder} is not a CLIP-head score model")
    name = metadata.get("name", folder.name)
    training = training_record(extra, name)
    try:
        info = ClipHeadInfo(
            name=name, head=extra["head"], head_kwargs=dict(extra.get("head_kwargs", {})),
            output=extra["output"], scale=extra.get("scale", "1-10"),
            input=InputSpec.from_dict(extra), backbone=extra["backbone"],
            backbone_model=extra["backbone_model"], training=Training(**training),
            folder=folder, backbone_digest=extra.get("backbone_digest"),
            card=dict(metadata.get("card", {})))
    except (KeyError, TypeError, ValueError) as error:
        raise ModelError(f"{folder / LOCAL_METADATA} is malformed ({error})") from None
    if info.head not in HEADS or info.output != OUTPUTS[info.head]:
        raise ModelError(f"{folder}: unknown CLIP head '{info.head}' giving '{info.output}'")
    if info.backbone != BACKBONE:
        raise ModelError(f"{folder}: a head on '{info.backbone}' embeddings; this version of "
                         f"Critique knows '{BACKBONE}' only")
    return info


def load_head(info: ClipHeadInfo) -> nn.Module:
    """The head, its weights loaded strictly from ``head.safetensors``."""
    from safetensors.torch import load_file

    if not info.weights.is_file():
        raise ModelError(f"{info.folder} has no {WEIGHTS}")
    head = build_head(info.head, **info.head_kwargs)
    try:
        head.load_state_dict(load_file(str(info.weights)), strict=True)
    except Exception as error:
        raise ModelError(f"{info.weights} does not fit a '{info.head}' CLIP head: "
                         f"{str(error).strip().splitlines()[0]}") from None
    return head.eval()


def missing_backbone_message(model: str = BACKBONE_MODEL) -> str:
    return f"needs {model}: critique models pull {model}"


def backbone_folder(store, model: str = BACKBONE_MODEL) -> Path:
    """The installed ``backbone/`` of ``model``; a clear error when it is not installed."""
    folder = store.path(model)
    if folder is None or not (folder / BACKBONE_FOLDER / "config.json").is_file():
        raise ModelError(missing_backbone_message(model))
    return folder / BACKBONE_FOLDER


def backbone_digest(store, model: str = BACKBONE_MODEL) -> str:
    """16 hex digits naming the installed backbone's files (from the install record: the
    1.7 GB file is never re-hashed)."""
    record = store.record(model) or {}
    files = {path: facts for path, facts in record.get("files", {}).items()
             if path.startswith(BACKBONE_FOLDER + "/")}
    return files_digest(files)


class ClipHeadNet(nn.Module):
    """CLIP's vision tower, then the head on the L2-normalised embedding."""

    def __init__(self, vision: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.vision = vision
        self.head = head

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_and_embed(images)[0]

    def forward_and_embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The head's output and the CLIP embeddings it read (B, 768), in one pass."""
        embeds = F.normalize(self.vision(pixel_values=images).image_embeds.float(), dim=-1)
        return self.head(embeds), embeds


class ClipHeadScorer(PretrainedScorer):
    """A trained CLIP head with the installed backbone it needs, scoring with torch."""

    embedding_kind = BACKBONE

    def __init__(self, folder: Path, *, name: str, store, device: str = "auto") -> None:
        info = read_clip_head_info(folder)
        vision_folder = backbone_folder(store, info.backbone_model)
        self.clip_info = info
        self.info = PretrainedInfo(name, ARCHITECTURE, info.input, Path(folder))
        self.output = info.output
        self.title = info.card.get("title") or name
        self.scale = info.scale
        from critique_app.core.store.hashing import sha256_file

        digest = backbone_digest(store, info.backbone_model)
        if info.backbone_digest and info.backbone_digest != digest:
            log.warning("%s was trained on another copy of %s's backbone than the one "
                        "installed; its scores may differ from what training measured", name,
                        info.backbone_model)
        self.version = (f"{name}:{sha256_file(info.weights)[:16]}:{digest}:"
                        f"{preprocess_version(info.input)}")
        self.device = resolve_device(device)
        head = load_head(info)
        self.net = ClipHeadNet(load_backbone(vision_folder), head).to(self.device).eval()

    @classmethod
    def from_store(cls, store, name: str, *, device: str = "auto",
                   runtime: str = "auto") -> ClipHeadScorer:
        """``runtime`` is accepted for symmetry with :class:`PretrainedScorer`; a CLIP head
        runs with torch."""
        return cls(store.require(name), name=name, store=store, device=device)
