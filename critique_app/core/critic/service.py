"""One call for a whole critique: pick the backend, ground it, stream it.

``stream_critique(analysis, request, cancel)`` never fails for want of a model:
with no language model, one that will not load, or one that fails while
writing (out of memory, damaged weights, a stall), it falls back to the rule
engine for what is left and says why in a ``notice`` event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import replace

from critique_app.core.analysis.analyzer import Analysis
from critique_app.core.critic.critics import Critic, LanguageCritic, RuleCritic
from critique_app.core.critic.events import CritiqueEvent
from critique_app.core.critic.loading import (
    NO_MODEL_HINT,
    VLM,
    failure_reason,
    find_adapter,
    find_language_model,
    load_language_model,
)
from critique_app.core.critic.request import CritiqueRequest
from critique_app.core.critic.scores import scores_text
from critique_app.core.critic.sections import SECTIONS
from critique_app.core.scene import recognise_scene
from critique_app.core.scene.labels import imagenet_labels, labels_text
from critique_app.core.scoring.distribution import ScoreDistribution
from critique_app.core.util.errors import CritiqueError

log = logging.getLogger(__name__)


def stream_critique(analysis: Analysis, request: CritiqueRequest | None = None,
                    cancel: threading.Event | None = None, *, store=None,
                    scores: dict[str, ScoreDistribution] | None = None
                    ) -> Iterator[CritiqueEvent]:
    from critique_app.core.store.store import ModelStore

    request = request or CritiqueRequest()
    cancel = cancel or threading.Event()
    store = store or ModelStore()
    scores = scores or {}
    critic, notices = choose_critic(analysis, request, store, scores)
    for notice in notices:
        yield CritiqueEvent("notice", text=notice)
    if isinstance(critic, LanguageCritic):
        yield from _falling_back_to_rules(critic, analysis, request, cancel, scores, store)
    else:
        yield from critic.stream(analysis, request, cancel)


def _falling_back_to_rules(critic: LanguageCritic, analysis: Analysis,
                           request: CritiqueRequest, cancel: threading.Event,
                           scores: dict[str, ScoreDistribution] | None = None, store=None
                           ) -> Iterator[CritiqueEvent]:
    """The model's critique; if the model fails mid-way, what it wrote stays and the rule
    engine writes the sections it had not finished."""
    finished: list[str] = []
    open_section = None
    try:
        for event in critic.stream(analysis, request, cancel):
            if event.kind == "start":
                open_section = event.section
            elif event.kind == "end":
                finished.append(event.section)
                open_section = None
            yield event
    except Exception as error:  # any model failure: the rules take over
        log.warning("the critique by %s failed", critic.lm.name, exc_info=True)
        if open_section is not None:  # say so where the text stops, not only in a notice
            yield CritiqueEvent("text", open_section, " [the model failed here; see the notice]")
            yield CritiqueEvent("end", open_section)
        cause = error.__cause__ or error  # generation wraps the model's own error
        yield CritiqueEvent("notice", text=f"{critic.lm.name} failed while writing "
                            f"({failure_reason(cause)}); the rule engine wrote the rest")
        rest = tuple(s for s in request.sections if s not in finished)
        labels = critic.labels
        if not labels and store is not None:
            labels = imagenet_labels(analysis.photo.pixels, store)
        rules = RuleCritic(scores, labels=labels, scene=critic.scene or scene_of(analysis, labels))
        yield from rules.stream(analysis, replace(request, sections=rest), cancel)


def choose_critic(analysis: Analysis, request: CritiqueRequest, store,
                  scores: dict[str, ScoreDistribution]) -> tuple[Critic, list[str]]:
    """The critic to use and what the user should know about that choice."""
    found = find_language_model(store, request.model) if request.use_model else None
    if found is None:
        return _rule_critic(analysis, request, store, scores,
                            NO_MODEL_HINT if request.use_model else
                            "rule-based critique only (no model)")
    name, folder = found
    adapter, notices = request.adapter, []
    if adapter is None:
        persona_adapter = find_adapter(store, name, request.persona.name)
        if persona_adapter:
            adapter = persona_adapter[1]
            notices.append(f"persona adapter '{persona_adapter[0]}' applied for "
                           f"{request.persona.name}")
    try:
        lm = load_language_model(folder, name=name, device=request.device, adapter=adapter)
    except CritiqueError as error:
        return _rule_critic(analysis, request, store, scores, f"{error}; using the rule engine")
    labels: list[tuple[str, float]] = []
    if lm.kind != VLM:
        labels = imagenet_labels(analysis.photo.pixels, store)
        notices.append(f"it cannot see the photo; it was told the classifier's labels "
                       f"({labels_text(labels)}) and the measurements, and each sentence it "
                       "writes is checked against them" if labels else
                       "it cannot see the photo and no classifier is installed to name what "
                       "it shows: 'critique models pull efficientnet-lite0-imagenet'")
    critic = LanguageCritic(lm, labels=labels, scores=scores_text(scores),
                            scene=scene_of(analysis, labels))
    return critic, [f"written by {lm.describe()}", *notices]


def _rule_critic(analysis: Analysis, request: CritiqueRequest, store,
                 scores: dict[str, ScoreDistribution], reason: str
                 ) -> tuple[Critic, list[str]]:
    """The rule engine, told what the classifier recognises and the scene."""
    worded = [s for s in request.sections if SECTIONS[s].needs_model]
    labels = imagenet_labels(analysis.photo.pixels, store) if worded else []
    notices = [reason]
    if worded:
        told = (f"the classifier's labels ({labels_text(labels)}), " if labels else "")
        notices.append(f"{', '.join(worded)} written from {told}the measurements and EXIF; "
                       "nothing else is assumed")
        if not labels:
            notices.append("no classifier is installed to name what the photo shows: "
                           "'critique models pull efficientnet-lite0-imagenet'")
    return RuleCritic(scores, labels=labels, scene=scene_of(analysis, labels)), notices


def scene_of(analysis: Analysis, labels: list[tuple[str, float]]):
    """The recognised scene (from the labels, measurements and EXIF), or None if it fails."""
    try:
        return recognise_scene(analysis, labels, analysis.photo.exif)
    except Exception:  # an optional refinement: the critique goes on without it
        log.warning("the scene could not be recognised", exc_info=True)
        return None
