"""Score models on disk: weights plus the record of how they were trained.

A score model folder holds ``model.safetensors`` and ``critique_model.json``
(the store's local-model metadata). Its ``extra`` block says which backbone
and input the network expects, which modality it looks at, and — required —
how it was trained and on what. A folder without a training record is
refused: an untrained head would print random numbers as if they were scores.

``extra.output`` says what the network predicts: ``"distribution"`` (NIMA's 10 bins; the
default, and what files without the key hold) or ``"mean"`` (one number per photo: a
:class:`~critique_app.core.scoring.mean_net.MeanScoreNet`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from critique_app.core.scoring.backbone import InputSpec, create_backbone
from critique_app.core.store.store import LOCAL_METADATA
from critique_app.core.util.errors import ModelError
from critique_app.core.util.files import atomic_path, write_text_atomically

FORMAT = "critique-score/1"
WEIGHTS = "model.safetensors"
MODALITIES = ("photo", "saliency", "depth", "blur")
OUTPUTS = ("distribution", "mean")


@dataclass(frozen=True)
class Training:
    """What a score model learned from. ``samples`` > 0 is what makes it usable."""

    dataset: str
    samples: int
    epochs: float
    finished_at: str
    metrics: dict  # e.g. {"val_srcc": 0.61, "val_emd": 0.07}
    notes: str = ""

    def describe(self) -> str:
        metrics = ", ".join(f"{k} {v:.3g}" for k, v in self.metrics.items()
                            if isinstance(v, int | float))
        return f"trained on {self.dataset} ({self.samples} photos" + (
            f"; {metrics})" if metrics else ")")


@dataclass
class ScoreModelInfo:
    name: str
    backbone: str
    modality: str
    input: InputSpec
    training: Training
    folder: Path
    backbone_kwargs: dict
    output: str = "distribution"  # "distribution" (10 bins) | "mean" (one number)
    features: str = "pooled"  # a mean model's head reads: "pooled" | "stages" (mean_net.py)

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS


def save_score_model(model, folder: Path, *, name: str, backbone: str, modality: str,
                     input_spec: InputSpec, training: Training | None,
                     backbone_kwargs: dict | None = None, licence: str = "Apache-2.0",
                     output: str = "distribution", features: str = "pooled") -> Path:
    """Write a score model folder (the trainer calls this). ``training=None`` is
    allowed only to mark a model as untrained; the loader will refuse it. ``output``:
    "distribution" (a ScoreNet) or "mean" (a MeanScoreNet)."""
    from safetensors.torch import save_file

    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}")
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS) as temporary:
        save_file(state, str(temporary))
    metadata = {
        "name": name,
        "task": "score",
        "architecture": f"critique:nima/{backbone}",
        "description": f"NIMA score model ({modality})" if output == "distribution"
        else f"score model ({modality}; a mean score, no distribution)",
        "licence": licence,
        "trained_on": training.describe() if training else "not trained",
        "extra": {
            "format": FORMAT,
            "backbone": backbone,
            "backbone_kwargs": backbone_kwargs or {},
            "modality": modality,
            **({"output": output, "features": features} if output != "distribution" else {}),
            **input_spec.to_dict(),
            "training": training.__dict__ if training else None,
        },
    }
    write_text_atomically(folder / LOCAL_METADATA, json.dumps(metadata, indent=2))
    return folder


def training_record(extra: dict, name: str) -> dict:
    """The training record in a score model's metadata; a model without one (never
    trained) is refused: an untrained head would print random numbers as scores."""
    training = extra.get("training")
    if not training or int(training.get("samples", 0)) <= 0:
        raise ModelError(f"the score model '{name}' has no training record: it was never "
                         "trained, so it cannot score photos")
    return training


def read_score_model_info(folder: Path) -> ScoreModelInfo:
    folder = Path(folder)
    path = folder / LOCAL_METADATA
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
        extra = metadata["extra"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ModelError(f"{folder} is not a Critique score model (no readable "
                         f"{LOCAL_METADATA})") from None
    if extra.get("format") != FORMAT:
        raise ModelError(f"{folder}: unknown score model format {extra.get('format')!r}")
    training = training_record(extra, metadata.get("name", folder.name))
    try:
        info = ScoreModelInfo(
            name=metadata["name"],
            backbone=extra["backbone"],
            modality=extra.get("modality", "photo"),
            input=InputSpec.from_dict(extra),
            training=Training(**training),
            folder=folder,
            backbone_kwargs=dict(extra.get("backbone_kwargs", {})),
            output=str(extra.get("output", "distribution")),
            features=str(extra.get("features", "pooled")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ModelError(f"{path} is malformed ({error})") from None
    if info.output not in OUTPUTS:
        raise ModelError(f"{path}: unknown output {info.output!r} (known: {', '.join(OUTPUTS)})")
    return info


def load_score_model(folder: Path):
    """(ScoreNet or MeanScoreNet in eval mode, info) for a trained score model folder."""
    from safetensors.torch import load_file

    from critique_app.core.scoring.mean_net import MeanScoreNet
    from critique_app.core.scoring.model import ScoreNet

    info = read_score_model_info(folder)
    if not info.weights.is_file():
        raise ModelError(f"{folder} has no {WEIGHTS}")
    backbone = create_backbone(info.backbone, **info.backbone_kwargs)
    try:
        net = (MeanScoreNet(backbone, info.features) if info.output == "mean"
               else ScoreNet(backbone))
    except ValueError as error:
        raise ModelError(f"{folder}: {error}") from None
    try:
        net.load_state_dict(load_file(str(info.weights)), strict=True)
    except Exception as error:
        raise ModelError(f"{info.weights} does not fit a {info.backbone} score model: "
                         f"{str(error).splitlines()[0]}") from None
    return net.eval(), info
