"""Trained models as folders the app's model store imports and uses at once.

A folder holds the weights (safetensors), ``critique_model.json`` (what the
store and the app read: task, architecture, licence, what it was trained on),
``metrics.json``, a ``README.md`` model card (data, licence, hyper-parameters,
hardware, metrics), and for score models ``model.onnx``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from critique_app.core.scoring.package import Training, save_score_model
from critique_app.core.util.files import write_text_atomically

ONNX_FILE = "model.onnx"


@dataclass
class ModelCard:
    name: str
    task: str
    summary: str
    dataset: str
    samples: int
    licence: str
    data_licence: str
    started_from: str
    hyper_parameters: dict
    hardware: dict
    metrics: dict
    baseline_metrics: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"# {self.name}", "", self.summary, "",
                 f"- Task: `{self.task}`",
                 f"- Trained on: {self.dataset} ({self.samples} training samples)",
                 f"- Started from: {self.started_from}",
                 f"- Licence of these weights: {self.licence}",
                 f"- Licence of the training data: {self.data_licence}",
                 f"- Written: {now()}", "", "## Held-out metrics", ""]
        if self.metrics:
            lines += ["| metric | this model |" + (" started from |" if self.baseline_metrics
                                                  else ""),
                      "|---|---|" + ("---|" if self.baseline_metrics else "")]
            for key, value in self.metrics.items():
                row = f"| {key} | {_fmt(value)} |"
                if self.baseline_metrics:
                    row += f" {_fmt(self.baseline_metrics.get(key))} |"
                lines.append(row)
        else:
            lines.append("No held-out metrics (no validation split).")
        lines += ["", "## Hyper-parameters", "", "```json",
                  json.dumps(self.hyper_parameters, indent=2, default=str), "```", "",
                  "## Hardware", "", "```json", json.dumps(self.hardware, indent=2, default=str),
                  "```"]
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "–" if value is None else str(value)


def write_card_and_metrics(folder: Path, card: ModelCard, extra_metrics: dict | None = None):
    folder = Path(folder)
    write_text_atomically(folder / "README.md", card.markdown())
    record = {"metrics": card.metrics, "baseline_metrics": card.baseline_metrics,
              **(extra_metrics or {})}
    write_text_atomically(folder / "metrics.json", json.dumps(record, indent=2, default=str))


def export_score_model(net, folder: Path, *, card: ModelCard, backbone: str, modality: str,
                       input_spec, backbone_kwargs: dict, epochs: float,
                       extra_metrics: dict | None = None, onnx: bool = True,
                       output: str = "distribution", features: str = "pooled") -> Path:
    """A score model folder the app scores with (torch or the bundled ONNX file).
    ``output``: "distribution" (a ScoreNet) or "mean" (a MeanScoreNet)."""
    net = net.eval().cpu()
    training = Training(dataset=card.dataset, samples=card.samples, epochs=round(epochs, 3),
                        finished_at=now(),
                        metrics={f"val_{k}": v for k, v in card.metrics.items()
                                 if isinstance(v, int | float)},
                        notes=f"started from {card.started_from}")
    save_score_model(net, folder, name=card.name, backbone=backbone, modality=modality,
                     input_spec=input_spec, training=training, backbone_kwargs=backbone_kwargs,
                     licence=card.licence, output=output, features=features)
    write_card_and_metrics(folder, card, extra_metrics)
    if onnx:
        from critique_app.core.scoring.onnx_runtime import export_onnx

        export_onnx(net, Path(folder) / ONNX_FILE, input_spec.size, output=output)
    return Path(folder)


def export_clip_head(head, folder: Path, *, card: ModelCard, kind: str, head_kwargs: dict,
                     epochs: float, backbone_digest: str | None, scale: str = "1-10",
                     extra_metrics: dict | None = None) -> Path:
    """A score model made of a head on CLIP ViT-L/14 embeddings: the head's weights and
    metadata naming the store model whose backbone it uses (never the backbone itself)."""
    from critique_app.core.scoring.pretrained.clip_head import save_clip_head

    training = Training(dataset=card.dataset, samples=card.samples, epochs=round(epochs, 3),
                        finished_at=now(),
                        metrics={f"val_{k}": v for k, v in card.metrics.items()
                                 if isinstance(v, int | float)},
                        notes=f"started from {card.started_from}")
    save_clip_head(head.eval().cpu(), folder, name=card.name, kind=kind,
                   head_kwargs=head_kwargs, training=training, scale=scale,
                   licence=card.licence, backbone_digest=backbone_digest)
    write_card_and_metrics(folder, card, extra_metrics)
    return Path(folder)
