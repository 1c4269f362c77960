"""Every photo's frame facts for culling, scored in the same pass, through the results cache.

Culling rides on folder scoring, leanly: one decode per photo feeds the frame facts
(:mod:`critique_app.core.culling.facts`) and the photo score model, whose score goes into
the facts; the measurement columns of a score row are not made (culling never reads them).
Facts are committed per batch in one transaction, so a second run is served from the cache
and a killed or cancelled run resumes where it stopped. A folder scored before lends its
score rows: those photos are decoded for the facts alone.
Each frame's embedding comes from the photo score model's own forward pass
(:mod:`critique_app.core.culling.embedding`); without a score model there is none.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from critique_app.core.culling import embedding as embeddings
from critique_app.core.culling.facts import FACTS_VERSION, FaceSetup, face_setup_for, frame_facts
from critique_app.core.folder_scoring.runner import Progress, score_photos
from critique_app.core.library.results_cache import ResultsCache
from critique_app.core.scoring.scorer import ScorerSet

AUTO = "auto"  # find the installed face models


class FrameFacts:
    """The frame step :func:`score_photos` runs on each decoded photo. ``embedding_model``:
    the photo score model's (its ``embedding_model``), whose embeddings the facts keep;
    None: no embeddings. The version names it: facts of another model are not reused."""

    def __init__(self, face_models=AUTO, *, face_setup: FaceSetup | None = None,
                 embedding_model: str | None = None) -> None:
        if face_setup is None:
            face_setup = face_setup_for(find_face_models() if face_models == AUTO
                                        else face_models)
        self.face_setup = face_setup
        self.embedding_model = embedding_model
        self.version = (f"{FACTS_VERSION}|{face_setup.version}|"
                        f"embedding-{embedding_model or 'none'}")

    def with_embeddings_of(self, scorers: ScorerSet) -> FrameFacts:
        """This step keeping the embeddings of ``scorers``' photo model (a copy)."""
        step = copy.copy(self)
        FrameFacts.__init__(step, face_setup=self.face_setup,
                            embedding_model=embedding_model_of(scorers))
        return step

    def compute(self, photo, path: Path, measured: dict | None) -> dict:
        facts = frame_facts(photo, path, face_setup=self.face_setup, measured=measured)
        facts["embedding"], facts["embedding_model"] = None, None
        return facts

    def finish(self, facts: list[dict], vectors: list) -> None:
        """Each photo's embedding (from the forward pass that scored it) into its facts."""
        for found, vector in zip(facts, vectors, strict=True):
            if vector is not None and self.embedding_model:
                found["embedding"] = embeddings.encode(vector)
                found["embedding_model"] = self.embedding_model


def embedding_model_of(scorers: ScorerSet) -> str | None:
    """The photo score model's embedding name, None when there is no model or it gives none."""
    return getattr(scorers.photo, "embedding_model", None) if scorers.photo else None


def find_face_models():
    """The installed MediaPipe face models, or None (then the Haar cascades are used)."""
    try:
        from critique_app.core.faces import find_face_models as find
    except ImportError:
        return None
    return find()


@dataclass
class CullFacts:
    """Each photo's facts (with "score" from its score row) or why it could not be read."""

    paths: list[Path]
    facts: list[dict | None]  # None where failed or not reached (cancelled)
    errors: list[str | None]  # the one-line reason where a photo failed
    cached: int = 0  # facts served from the results cache
    computed: int = 0  # facts made in this run
    failed: int = 0
    cancelled: bool = False
    face_method: str = ""  # "mediapipe", "haar" or "none"
    face_note: str = ""
    scores_missing: str | None = None  # why every score is None
    notes: list[str] = field(default_factory=list)


def cull_photos(paths: list[Path], *, cache: ResultsCache, scorers: ScorerSet, jobs: int = 2,
                cancel=None, progress: Progress | None = None, face_models=AUTO,
                step: FrameFacts | None = None, batch_size: int = 16) -> CullFacts:
    """Score the photos and read their frame facts in one pass (see the module docstring).

    ``face_models``: a FaceModels, None for OpenCV's Haar cascades, or "auto" for the
    installed ones; ``step`` overrides it (a prepared :class:`FrameFacts`). The embeddings
    are those of ``scorers``' photo model, whatever ``step`` said."""
    step = (step or FrameFacts(face_models)).with_embeddings_of(scorers)
    scored = score_photos(list(paths), cache=cache, scorers=scorers, jobs=jobs,
                          batch_size=batch_size, cancel=cancel, progress=progress,
                          frame_step=step, lean=True)
    out = CullFacts(list(paths), [None] * len(paths), [None] * len(paths),
                    computed=scored.facts_computed, cancelled=scored.cancelled,
                    scores_missing=scored.scores_missing)
    for i, row in enumerate(scored.rows):
        facts = scored.facts[i]
        if row is not None and row.get("status") != "ok":
            out.errors[i] = row.get("error") or "could not be read"
        elif i in scored.facts_errors:
            out.errors[i] = f"frame facts could not be read: {scored.facts_errors[i]}"
        elif row is not None and facts is not None:
            out.facts[i] = {**facts, "score": row.get("score_mean")}
    out.failed = sum(1 for error in out.errors if error)
    out.cached = sum(1 for f in out.facts if f is not None) - out.computed
    methods = [f["faces"] for f in out.facts if f is not None]
    if methods:
        out.face_method, out.face_note = methods[0]["method"], methods[0]["note"]
    else:
        out.face_method = step.face_setup.version.removeprefix("faces-").split("-")[0]
    if step.embedding_model is None:
        out.notes.append("looks compared without a backbone embedding (pixel hashes only): "
                         + ("no score model is installed" if scorers.photo is None else
                            f"{scorers.photo.title} gives none"))
    return out
