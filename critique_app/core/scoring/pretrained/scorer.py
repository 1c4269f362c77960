"""A pulled pretrained score model, ready to score batches: torch, or on the CPU ONNX Runtime
with int8 weights where that was measured to be faster and faithful (:mod:`.onnx_int8`).

Its cache version comes from the install record's file hashes (the store hashed every
file once, at install): a 1.7 GB backbone is never re-hashed on start.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from critique_app.core.scoring.backbone import InputSpec
from critique_app.core.scoring.distribution import ScoreDistribution
from critique_app.core.scoring.preprocess import preprocess_version
from critique_app.core.scoring.pretrained.registry import architecture_of
from critique_app.core.scoring.speed import describe_device
from critique_app.core.util.errors import ModelError

log = logging.getLogger("critique.scoring")
MAX_BATCH = 16  # photos per forward pass (memory stays flat whatever batch comes in)


@dataclass(frozen=True)
class PretrainedInfo:
    name: str  # the store name
    architecture: str
    input: InputSpec
    folder: Path
    modality: str = "photo"


def files_digest(files: dict) -> str:
    """16 hex digits from an install record's ``files`` ({path: {"sha256", "size"}})."""
    listing = sorted((str(path), str(facts.get("sha256"))) for path, facts in files.items())
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:16]


def resolve_device(device: str) -> str:
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', not {device!r}")
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        log.warning("CUDA was requested but is not usable; scoring on the CPU")
        return "cpu"
    return device


class PretrainedScorer:
    """One pulled pretrained score model (LAION aesthetic v2, NIMA on AVA, ...)."""

    runtime = "torch"  # "onnx-int8" when the int8 ONNX export runs it (CPU only)
    embedding_kind: str | None = None  # the backbone its embeddings come from
    _onnx = None  # that export's OnnxScorer
    _net = None
    _load_net = None  # loads the torch network on first use of ``net``

    def __init__(self, folder: Path, *, name: str, architecture: str, files: dict,
                 title: str | None = None, device: str = "auto", runtime: str = "auto") -> None:
        spec = architecture_of(architecture)
        self.info = PretrainedInfo(name, architecture, spec.input, Path(folder))
        self.output = spec.output
        self.title = title or spec.title
        self.scale = spec.scale
        self.version = f"{name}:{files_digest(files)}:{preprocess_version(spec.input)}"
        self.device = resolve_device(device)
        self.embedding_kind = spec.backbone or None
        self._load_net = lambda: spec.load(folder).to(self.device).eval()
        if runtime not in ("auto", "torch", "onnx"):
            raise ModelError(f"unknown runtime '{runtime}' (torch, onnx or auto)")
        if self.device == "cpu" and runtime != "torch":
            from critique_app.core.scoring.pretrained.onnx_int8 import (
                RUNTIME,
                files_state,
                int8_session,
            )

            self._onnx = int8_session(architecture, self.version, spec.input, lambda: self.net,
                                      files_state(folder, files))
            if self._onnx is not None:
                self.runtime, self._net = RUNTIME, None  # torch's copy was only for the export
        if self._onnx is None:
            self.net  # noqa: B018 - load it now: a broken model fails here, not mid-folder

    @property
    def net(self):
        """The torch network (loaded on first use when the int8 export runs the scores)."""
        if self._net is None and self._load_net is not None:
            self._net = self._load_net()
        return self._net

    @net.setter
    def net(self, value) -> None:
        self._net = value

    @classmethod
    def from_store(cls, store, name: str, *, device: str = "auto",
                   runtime: str = "auto") -> PretrainedScorer:
        folder = store.require(name)
        entry = store.entry(name)
        record = store.record(name) or {}
        card = getattr(entry, "card", None) or {}
        return cls(folder, name=name, architecture=entry.architecture,
                   files=record.get("files", {}), title=card.get("title"), device=device,
                   runtime=runtime)

    @property
    def modality(self) -> str:
        return self.info.modality

    @property
    def provider(self) -> str:
        if self._onnx is not None:
            return "ONNX Runtime int8 (CPU)"
        return f"torch ({self.device.upper() if self.device == 'cpu' else 'CUDA'})"

    def describe_device(self) -> str:
        """Where it runs, as a speed note says it: "CPU, 2 cores" or "CUDA (NVIDIA ...)"."""
        return describe_device(self.device)

    @property
    def embedding_model(self) -> str | None:
        """What its embeddings are comparable with (embeddings of one model only); None when
        it gives none."""
        if self.embedding_kind is None:
            return None
        if self._onnx is not None:
            if not self._onnx.embeds:
                return None
        elif not hasattr(self.net, "forward_and_embed"):
            return None
        return f"{self.embedding_kind}/{self.version}"

    def outputs(self, batch: np.ndarray) -> np.ndarray:
        """(B, 3, S, S) normalised inputs -> (B,) means or (B, 10) probabilities."""
        return self._run(batch, embed=False)[0]

    def _run(self, batch: np.ndarray, *, embed: bool) -> tuple[np.ndarray, np.ndarray | None]:
        import torch

        batch = np.asarray(batch)
        size = self.info.input.size
        if batch.ndim != 4 or batch.shape[1:] != (3, size, size) or len(batch) < 1:
            raise ModelError(f"{self.title} needs a batch of shape (B, 3, {size}, {size}), got "
                             f"{tuple(batch.shape)}")
        if self._onnx is not None:
            from critique_app.core.scoring.pretrained.onnx_int8 import run_each, run_each_and_embed

            return run_each_and_embed(self._onnx, batch) if embed else (
                run_each(self._onnx, batch), None)
        results, embeddings = [], []
        forward = self.net.forward_and_embed if embed else self.net
        with torch.inference_mode():
            for start in range(0, len(batch), MAX_BATCH):
                chunk = torch.from_numpy(np.ascontiguousarray(
                    batch[start:start + MAX_BATCH], dtype=np.float32)).to(self.device)
                if self.device == "cuda":
                    with torch.autocast("cuda", dtype=torch.float16):
                        out = forward(chunk)
                else:
                    out = forward(chunk)
                if embed:
                    out, embedding = out
                    embeddings.append(embedding.float().cpu().numpy())
                results.append(out.float().cpu().numpy())
        return np.concatenate(results), np.concatenate(embeddings) if embed else None

    def score(self, batch: np.ndarray) -> list[ScoreDistribution]:
        return self._distributions(self.outputs(batch))

    def score_and_embed(self, batch: np.ndarray
                        ) -> tuple[list[ScoreDistribution], np.ndarray | None]:
        """:meth:`score` and the (B, D) float32 embeddings of the same forward pass (CLIP's
        image embedding for LAION, the pooled backbone for NIMA); None when it gives none."""
        if self.embedding_model is None:
            return self.score(batch), None
        outputs, embeddings = self._run(batch, embed=True)
        return self._distributions(outputs), embeddings

    def _distributions(self, outputs: np.ndarray) -> list[ScoreDistribution]:
        if self.output == "mean":
            return [ScoreDistribution.from_mean(float(v), model=self.title, scale=self.scale)
                    for v in outputs.reshape(-1)]
        return [ScoreDistribution.from_probabilities(p, model=self.title, scale=self.scale)
                for p in outputs]
