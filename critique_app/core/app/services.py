"""What the windows ask of the core, in one place (Qt-free, thread-safe).

Model-backed objects (score models, the language model) are found lazily on
worker threads and cached here; ``models_changed()`` forgets them so the next
photo picks up what was pulled, imported or chosen in Settings.
"""

from __future__ import annotations

import threading
from pathlib import Path

from critique_app.core.analysis.photo_steps import open_photo_steps
from critique_app.core.app.settings import Settings
from critique_app.core.critic.personas import resolve_persona
from critique_app.core.critic.request import CritiqueRequest
from critique_app.core.scoring.scorer import NO_SCORER_HINT, ScorerSet, find_scorers
from critique_app.core.store.store import ModelStore
from critique_app.core.util.errors import CritiqueError


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
                                                 device=self.settings.device)
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
        return open_photo_steps(path, scorers=self.scorers(), cancel=cancel)

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
