"""Trained score models, ready to score batches with torch or onnxruntime.

Which models score: the installed ``score`` models of the store, one per
modality (photo, saliency, depth, blur). None installed is a normal, visible
state (:func:`find_scorers` returns an empty set and says why), never a
random head.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from critique_app.core.scoring.distribution import ScoreDistribution
from critique_app.core.scoring.package import load_score_model, read_score_model_info
from critique_app.core.scoring.preprocess import PREPROCESS_VERSION
from critique_app.core.store.hashing import sha256_file
from critique_app.core.util.errors import ModelError
from critique_app.core.util.paths import data_dir

log = logging.getLogger("critique.scoring")
NO_SCORER_HINT = ("no trained score model is installed: train one with the bundled trainer "
                  "(train/) and add it with 'critique models import DIR'")


class Scorer:
    """One trained score model. ``runtime``: "torch", "onnx" or "auto" (onnx on CPU)."""

    def __init__(self, folder: Path, *, runtime: str = "auto", device: str = "auto") -> None:
        self.net, self.info = load_score_model(folder)
        weights_hash = sha256_file(self.info.weights)[:16]
        self.version = f"{self.info.name}:{weights_hash}:{PREPROCESS_VERSION}"
        self.runtime = "onnx" if runtime == "auto" else runtime
        self._onnx = None
        if self.runtime == "onnx":
            self._onnx = self._onnx_session(device)
        elif self.runtime != "torch":
            raise ModelError(f"unknown runtime '{runtime}' (torch, onnx or auto)")

    @property
    def modality(self) -> str:
        return self.info.modality

    @property
    def provider(self) -> str:
        return self._onnx.provider if self._onnx else "torch (CPU)"

    def _onnx_session(self, device: str):
        """The ONNX export is cached per weights version beside the other user data."""
        from critique_app.core.scoring.onnx_runtime import OnnxScorer, export_onnx

        path = data_dir() / "onnx" / (self.version.replace(":", "-") + ".onnx")
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            export_onnx(self.net, path, self.info.input.size)
        return OnnxScorer(path, device=device)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """(B, 3, S, S) normalised inputs -> (B, 10) probabilities."""
        if self._onnx is not None:
            return self._onnx(batch)
        import torch

        with torch.inference_mode():
            return self.net(torch.from_numpy(np.ascontiguousarray(batch))).numpy()

    def score(self, batch: np.ndarray) -> list[ScoreDistribution]:
        return [ScoreDistribution.from_probabilities(p) for p in self.probabilities(batch)]


@dataclass
class ScorerSet:
    """The score models to use, by modality; ``missing`` explains an empty set."""

    by_modality: dict[str, Scorer] = field(default_factory=dict)
    missing: str | None = None

    @property
    def photo(self) -> Scorer | None:
        return self.by_modality.get("photo")

    @property
    def version(self) -> str:
        if not self.by_modality:
            return "no-score-model"
        return "+".join(self.by_modality[m].version for m in sorted(self.by_modality))

    def score_inputs(self, inputs: dict[str, np.ndarray]) -> dict[str, ScoreDistribution]:
        """Score one photo: ``inputs`` maps a modality ("photo", "saliency", ...) to its
        pixels or map; modalities without an input (e.g. depth unavailable) are left out."""
        from critique_app.core.scoring.preprocess import to_network_input

        return {modality: scorer.score(to_network_input(inputs[modality],
                                                        scorer.info.input)[None])[0]
                for modality, scorer in self.by_modality.items() if modality in inputs}


def find_scorers(store=None, *, name: str | None = None, runtime: str = "auto",
                 device: str = "auto") -> ScorerSet:
    """Installed, trained score models: ``name`` (or the first photo model) plus one
    model per other modality. Models without a training record are skipped, logged."""
    from critique_app.core.store.store import ModelStore

    store = store or ModelStore()
    if name is not None:
        scorer = Scorer(store.require(name), runtime=runtime, device=device)
        chosen = {scorer.modality: scorer}
    else:
        chosen = {}
    for model in store.installed_for_task("score"):
        if model == name:
            continue
        try:
            info = read_score_model_info(store.folder(model))
        except ModelError as error:
            log.warning("%s", error)
            continue
        if info.modality not in chosen:
            chosen[info.modality] = Scorer(info.folder, runtime=runtime, device=device)
    if "photo" not in chosen:
        return ScorerSet(chosen, NO_SCORER_HINT)
    return ScorerSet(chosen)

