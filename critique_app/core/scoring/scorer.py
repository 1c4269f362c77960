"""Score models, ready to score batches: trained ones (torch or onnxruntime) and pulled
pretrained ones (torch; :mod:`critique_app.core.scoring.pretrained`).

Which models score: the installed ``score`` models of the store, one per
modality (photo, saliency, depth, blur). For the photo, when no name is given: a
model the user trained or imported, then LAION aesthetic v2, then any other pulled
pretrained scorer. None installed is a normal, visible state (:func:`find_scorers`
returns an empty set and says why), never a random head.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from critique_app.core.scoring.distribution import ScoreDistribution
from critique_app.core.scoring.package import load_score_model, read_score_model_info
from critique_app.core.scoring.preprocess import PREPROCESS_VERSION
from critique_app.core.scoring.pretrained.registry import is_clip_head, is_pretrained
from critique_app.core.scoring.pretrained.scorer import PretrainedScorer
from critique_app.core.scoring.speed import describe_device
from critique_app.core.store.hashing import sha256_file
from critique_app.core.util.errors import ModelError
from critique_app.core.util.paths import data_dir

log = logging.getLogger("critique.scoring")
DEFAULT_PRETRAINED = "laion-aesthetic-v2"
PERSONAL_PREFIX = "my-taste-"  # the names core/finetuning/personal.py gives personal models
NO_SCORER_HINT = ("no score model is installed: pull the pretrained one with 'critique models "
                  f"pull {DEFAULT_PRETRAINED}', or train your own with the bundled trainer "
                  "(train/) and add it with 'critique models import DIR'")


class Scorer:
    """One trained score model. ``runtime``: "torch", "onnx" or "auto" (onnx on CPU).

    ``output`` is "distribution" (10 bins) or "mean" (one number: the model's metadata
    says ``"output": "mean"``); ``title`` is what a score says it came from (the model's
    store name). :meth:`score_and_embed` also gives the pooled backbone features the head
    read, from the same pass; ``embedding_model`` names them (None: this model gives none)."""

    output = "distribution"
    scale = "1-10"

    def __init__(self, folder: Path, *, runtime: str = "auto", device: str = "auto") -> None:
        self.net, self.info = load_score_model(folder)
        self.title = self.info.name
        self.output = self.info.output
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
        """The ONNX export (score and embedding) is cached per weights version and export
        version beside the other user data."""
        from critique_app.core.scoring.onnx_runtime import EXPORT_VERSION, OnnxScorer, export_onnx

        name = f"{self.version.replace(':', '-')}-{EXPORT_VERSION}.onnx"
        path = data_dir() / "onnx" / name
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            export_onnx(self.net, path, self.info.input.size,
                        output="mean" if self.output == "mean" else "distribution",
                        embedding=True)
        return OnnxScorer(path, device=device)

    @property
    def embedding_model(self) -> str | None:
        """What this model's embeddings are comparable with: embeddings of one model only."""
        embeds = self._onnx.embeds if self._onnx is not None else hasattr(
            self.net, "forward_and_embed")
        return f"{self.info.backbone}/{self.version}" if embeds else None

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """(B, 3, S, S) normalised inputs -> (B, 10) probabilities ((B,) means for a
        mean-only model)."""
        if self._onnx is not None:
            return self._onnx(batch)
        import torch

        with torch.inference_mode():
            return self.net(torch.from_numpy(np.ascontiguousarray(batch))).numpy()

    def score(self, batch: np.ndarray) -> list[ScoreDistribution]:
        return distributions(self.probabilities(batch), self)

    def score_and_embed(self, batch: np.ndarray
                        ) -> tuple[list[ScoreDistribution], np.ndarray | None]:
        """:meth:`score` and the (B, D) float32 pooled features of the same forward pass;
        None when this model gives none (see ``embedding_model``)."""
        if self.embedding_model is None:
            return self.score(batch), None
        if self._onnx is not None:
            out, embedding = self._onnx.score_and_embed(batch)
        else:
            import torch

            with torch.inference_mode():
                out, embedding = self.net.forward_and_embed(
                    torch.from_numpy(np.ascontiguousarray(batch)))
            out, embedding = out.numpy(), embedding.float().numpy()
        return distributions(out, self), np.asarray(embedding, np.float32)

    def describe_device(self) -> str:
        """Where it runs, as a speed note says it."""
        if self._onnx is not None and self._onnx.provider != "CPUExecutionProvider":
            return "CUDA (ONNX Runtime)"
        return describe_device("cpu")


def distributions(outputs: np.ndarray, scorer) -> list[ScoreDistribution]:
    """A model's raw outputs ((B,) means or (B, 10) probabilities) as score distributions."""
    if scorer.output == "mean":
        return [ScoreDistribution.from_mean(float(m), model=scorer.title, scale=scorer.scale)
                for m in np.asarray(outputs).reshape(-1)]
    return [ScoreDistribution.from_probabilities(p, model=scorer.title, scale=scorer.scale)
            for p in outputs]


AnyScorer = Scorer | PretrainedScorer  # both: info (name, modality, input), version, title,
# output ("distribution" | "mean"), provider, score(batch) -> list[ScoreDistribution],
# score_and_embed(batch) -> (list[ScoreDistribution], (B, D) float32 | None), embedding_model


@dataclass
class ScorerSet:
    """The score models to use, by modality; ``missing`` explains an empty set."""

    by_modality: dict[str, AnyScorer] = field(default_factory=dict)
    missing: str | None = None
    # The photographer's personal model (Settings.personal_model), scored beside the photo
    # model, never in its place; ``personal_missing`` says why a named one is not loaded.
    personal: AnyScorer | None = None
    personal_missing: str | None = None

    @property
    def photo(self) -> AnyScorer | None:
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

    def score_personal(self, photo: np.ndarray) -> ScoreDistribution | None:
        """The personal model's score of the photo's pixels (None without one)."""
        from critique_app.core.scoring.preprocess import to_network_input

        if self.personal is None:
            return None
        return self.personal.score(to_network_input(photo, self.personal.info.input)[None])[0]


def is_personal_name(name: str) -> bool:
    """A personal model's store name ("my-taste-…"): never picked as the general scorer."""
    return name.startswith(PERSONAL_PREFIX)


def find_scorers(store=None, *, name: str | None = None, runtime: str = "auto",
                 device: str = "auto", personal: str | None = None) -> ScorerSet:
    """Installed score models: ``name`` (or the preferred photo model) plus one model per
    other modality. Trained models without a training record are skipped, logged; a
    pretrained model that will not load is skipped for the next one, and when none is left
    ``missing`` says why. ``runtime`` applies to trained models (pretrained ones run with
    torch). ``personal``: the photographer's personal model, loaded as
    :attr:`ScorerSet.personal`; personal models ("my-taste-…") are never chosen as the
    photo model unless ``name`` asks for one."""
    from critique_app.core.store.store import ModelStore

    store = store or ModelStore()
    found = _find_scorers(store, name=name, runtime=runtime, device=device)
    if personal:
        try:
            found.personal = load_scorer(store, personal, runtime=runtime, device=device)
        except ModelError as error:
            log.warning("the personal model '%s' could not be used: %s", personal, error)
            found.personal_missing = f"your personal model '{personal}' could not be used: {error}"
    return found


def _find_scorers(store, *, name: str | None, runtime: str, device: str) -> ScorerSet:
    chosen: dict[str, AnyScorer] = {}
    if name is not None:
        scorer = load_scorer(store, name, runtime=runtime, device=device)
        chosen[scorer.modality] = scorer
    failures: list[str] = []
    for model, modality in _candidates(store):
        if model == name or modality in chosen or is_personal_name(model):
            continue
        try:
            chosen[modality] = load_scorer(store, model, runtime=runtime, device=device)
        except ModelError as error:
            log.warning("the score model '%s' could not be used: %s", model, error)
            failures.append(f"the score model '{model}' could not be used: {error}")
    if "photo" not in chosen:
        return ScorerSet(chosen, failures[0] if failures else NO_SCORER_HINT)
    return ScorerSet(chosen)


def load_scorer(store, name: str, *, runtime: str = "auto", device: str = "auto") -> AnyScorer:
    """The installed score model ``name``, trained or pretrained."""
    folder = store.require(name)
    architecture = store.entry(name).architecture
    if is_pretrained(architecture):  # on a CPU, LAION v2 runs an int8 ONNX export unless "torch"
        return PretrainedScorer.from_store(store, name, device=device, runtime=runtime)
    if is_clip_head(architecture):  # a head on CLIP embeddings (a PretrainedScorer too)
        from critique_app.core.scoring.pretrained.clip_head import ClipHeadScorer

        if runtime == "onnx":
            log.info("%s runs with torch (CLIP heads are not exported to ONNX)", name)
        return ClipHeadScorer.from_store(store, name, device=device)
    return Scorer(folder, runtime=runtime, device=device)


def _candidates(store) -> list[tuple[str, str]]:
    """(name, modality) of every usable installed score model, in the order of preference:
    the user's trained or imported models, then LAION aesthetic v2, then other pretrained."""
    trained, pretrained = [], []
    for model in store.installed_for_task("score"):
        try:
            architecture = store.entry(model).architecture
        except ModelError:
            continue
        if is_pretrained(architecture):
            pretrained.append((model != DEFAULT_PRETRAINED, model))
            continue
        if is_clip_head(architecture):  # trained by the user on CLIP embeddings
            trained.append((model, "photo"))
            continue
        try:
            info = read_score_model_info(store.folder(model))
        except ModelError as error:
            log.warning("%s", error)
            continue
        trained.append((model, info.modality))
    return trained + [(model, "photo") for _, model in sorted(pretrained)]
