"""What the windows ask of the core, in one place (Qt-free, thread-safe).

Model-backed objects (score models, the language model) are found lazily on
worker threads and cached here; ``models_changed()`` forgets them so the next
photo picks up what was pulled, imported or chosen in Settings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from critique_app.core.analysis.photo_steps import open_photo_steps
from critique_app.core.app.settings import Settings
from critique_app.core.critic.personas import resolve_persona
from critique_app.core.critic.request import CritiqueRequest
from critique_app.core.finetuning.personal import PersonalInfo, read_personal_info
from critique_app.core.scene import scene_for
from critique_app.core.scoring.distribution import ScoreDistribution
from critique_app.core.scoring.scorer import NO_SCORER_HINT, ScorerSet, find_scorers
from critique_app.core.store.store import ModelStore
from critique_app.core.util.errors import CritiqueError, check_cancelled


@dataclass(frozen=True)
class PersonalScore:
    """The open photo's personal score (None when it could not be scored), what the model
    learned from, and why there is no score."""

    score: ScoreDistribution | None
    info: PersonalInfo | None
    problem: str | None


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._scorers: ScorerSet | None = None
        self.folder_scores: dict[Path, float] = {}  # path -> percentile, from the folder view

    def store(self) -> ModelStore:
        return ModelStore()

    def scorers(self) -> ScorerSet:
        """The score models to use (worker thread: loading them takes a while)."""
        with self._lock:
            if self._scorers is None:
                try:
                    self._scorers = find_scorers(self.store(), name=self.settings.scorer_model,
                                                 device=self.settings.device,
                                                 personal=self.settings.personal_model)
                except CritiqueError as error:
                    self._scorers = ScorerSet({}, f"the score model could not be used: {error}")
            return self._scorers

    def scorer_missing(self) -> str:
        scorers = self._scorers
        return scorers.missing if scorers is not None and scorers.missing else NO_SCORER_HINT

    def models_changed(self) -> None:
        with self._lock:
            self._scorers = None

    def open_photo_steps(self, path: Path, cancel):
        """The core's steps of one photo (:func:`open_photo_steps`), with a ``personal``
        step after the first ``scores`` when a personal model is set: (its score or None,
        its :class:`PersonalInfo`, or why it could not score), then a ``scene`` step (the
        photo's :class:`Scene`; its labels are the ones the critique will reuse)."""
        scorers = self.scorers()
        analysis = None
        personal_done = False
        for step in open_photo_steps(path, scorers=scorers, cancel=cancel):
            yield step
            if step[0] == "analysis":
                analysis = step[1]
            elif step[0] == "scores" and not personal_done and analysis is not None:
                personal_done = True
                if scorers.personal is not None or scorers.personal_missing:
                    check_cancelled(cancel)
                    yield "personal", self._personal_score(scorers, analysis)
                check_cancelled(cancel)  # after the scores: the labels may load a network
                yield "scene", scene_for(analysis, self.store())

    def personal_score(self, analysis) -> PersonalScore | None:
        """The personal model's score of an analysed photo (worker thread), or None when
        no personal model is set."""
        scorers = self.scorers()
        if scorers.personal is None and not scorers.personal_missing:
            return None
        return self._personal_score(scorers, analysis)

    def _personal_score(self, scorers: ScorerSet, analysis) -> PersonalScore:
        if scorers.personal is None:
            return PersonalScore(None, None, scorers.personal_missing)
        name = self.settings.personal_model or scorers.personal.info.name
        folder = self.store().path(name)
        info = read_personal_info(folder, name) if folder is not None else None
        try:
            score = scorers.score_personal(analysis.score_inputs()["photo"])
        except CritiqueError as error:
            return PersonalScore(None, info, f"your personal model could not score it: {error}")
        return PersonalScore(score, info, None)

    def critique_request(self, persona: str | None) -> CritiqueRequest:
        settings = self.settings
        return CritiqueRequest(persona=resolve_persona(persona or settings.default_persona),
                               model=settings.critic_model or None,
                               use_model=settings.use_language_model, device=settings.device)

    def stream_critique(self, analysis, request, cancel, *, scores):
        from critique_app.core.critic.service import stream_critique

        return stream_critique(analysis, request, cancel, store=self.store(), scores=scores)

    def percentile_of(self, path: Path) -> float | None:
        return self.folder_scores.get(Path(path).resolve())
