"""The critic backends, behind one interface.

``Critic.stream(analysis, request, cancel)`` yields :class:`CritiqueEvent`s.
- :class:`RuleCritic` needs no model: every section written from what is known
  (the classifier's labels, the measurements, EXIF, the scene; see prose.py).
- :class:`LanguageCritic` writes every section with a language model (a VLM that
  sees the photo, or a text-only model given the classifier's labels), keeping
  the rule engine's evidence beside what it writes. Each sentence is checked
  against what is known (grounding.py): a text-only model's unsupported sentences
  are removed, a VLM's contradictions marked, and a notice counts them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping

from critique_app.core.analysis.analyzer import Analysis
from critique_app.core.critic import emotion as emotions
from critique_app.core.critic import prose
from critique_app.core.critic.chat import PhotoPrompts, render_prompt
from critique_app.core.critic.events import CritiqueEvent
from critique_app.core.critic.facts import Fact, facts_text, measured_facts
from critique_app.core.critic.generation import stream_generate
from critique_app.core.critic.grounding import Grounds, SentenceGate, removed_notice
from critique_app.core.critic.grounding import warm as grounding_warm
from critique_app.core.critic.loading import VLM, LanguageModel, failure_reason
from critique_app.core.critic.prompts import PromptContext, section_messages
from critique_app.core.critic.request import CritiqueRequest
from critique_app.core.critic.scores import score_sentences, scores_text
from critique_app.core.critic.sections import SECTIONS
from critique_app.core.critic.suggestions import Advice, Suggestion, advise, suggestions_prompt
from critique_app.core.scene.labels import labels_text
from critique_app.core.scoring.distribution import ScoreDistribution
from critique_app.core.util.errors import Cancelled

log = logging.getLogger(__name__)

TOPIC_TITLES = {"light": "Light", "colour": "Colour", "composition": "Composition",
                "focus": "Focus", "noise": "Noise", "depth": "Depth"}


class Critic:
    name = "critic"

    def stream(self, analysis: Analysis, request: CritiqueRequest,
               cancel: threading.Event | None = None) -> Iterator[CritiqueEvent]:
        """The critique of ``analysis`` (the photo with its maps and measurements), section
        by section as ``request`` asks (persona, sections, model options): a "start"
        event, the section's text events, an "end" event per section, then "done"; a
        "cancelled" event instead as soon as ``cancel`` is set."""
        cancel = cancel or threading.Event()
        for section in request.sections:
            if cancel.is_set():
                yield CritiqueEvent("cancelled")
                return
            if not self.writes(section):
                continue
            yield CritiqueEvent("start", section, SECTIONS[section].title)
            yield from self.section(section, analysis, request, cancel)
            yield CritiqueEvent("end", section)
            if cancel.is_set():
                yield CritiqueEvent("cancelled")
                return
        yield CritiqueEvent("done")

    def writes(self, section: str) -> bool:
        raise NotImplementedError

    def section(self, section: str, analysis: Analysis, request: CritiqueRequest,
                cancel: threading.Event) -> Iterator[CritiqueEvent]:
        raise NotImplementedError


def facts_of(analysis: Analysis) -> list[Fact]:
    stats = {name: result.stats for name, result in analysis.maps.items()
             if result.available}
    return measured_facts(analysis.measurements, stats)


def grounds_of(analysis: Analysis, labels=(), scene=None, known_text: str = "",
               facts: list[Fact] | None = None) -> Grounds:
    """What a critique of ``analysis`` may rest on."""
    return Grounds(tuple(labels or ()), tuple(facts if facts is not None else facts_of(analysis)),
                   dict(analysis.measurements), getattr(analysis.photo, "exif", None), scene,
                   known_text)


def advice_of(analysis: Analysis, scene=None) -> Advice:
    """The rule engine's suggestions, fitted to the scene and explained by the EXIF."""
    return advise(analysis.measurements, scene=scene,
                  exif=getattr(analysis.photo, "exif", None))


def advice_text(analysis: Analysis, scene=None) -> str:
    """The suggestions' own words: their numbers (a correction of 1.0 EV, a rotation of
    3.9°) are the rule engine's, so a critique may quote them."""
    advice = advice_of(analysis, scene)
    return " ".join([*(f"{item.action} {item.evidence}" for item in advice.suggestions),
                     *advice.set_aside])


def evidence_events(facts: list[Fact]) -> Iterator[CritiqueEvent]:
    """The measured facts, grouped by topic, as evaluation text."""
    by_topic: dict[str, list[str]] = {}
    for fact in facts:
        by_topic.setdefault(fact.topic, []).append(fact.sentence)
    for topic, sentences in by_topic.items():
        title = TOPIC_TITLES.get(topic, topic.capitalize())
        yield CritiqueEvent("text", "evaluation", f"{title}: {' '.join(sentences)}\n")


def suggestion_events(suggestions: list[Suggestion],
                      set_aside: list[str] | tuple = ()) -> Iterator[CritiqueEvent]:
    """Each suggestion, then the advice the scene set aside, with why."""
    for rank, item in enumerate(suggestions, 1):
        yield CritiqueEvent("suggestion", "suggestions", data={"rank": rank, **item.to_dict()})
        yield CritiqueEvent("text", "suggestions",
                            f"{rank}. {item.action}\n   Measured: {item.evidence}\n")
    for note in set_aside:
        yield CritiqueEvent("text", "suggestions", f"- {note}\n")
    if not suggestions and set_aside:
        yield CritiqueEvent("text", "suggestions", "Nothing else measured calls for a fix.\n")
    elif not suggestions:
        yield CritiqueEvent("text", "suggestions",
                            "Nothing measured calls for a fix: exposure, colour, focus, noise "
                            "and level are all within normal ranges.\n")


class RuleCritic(Critic):
    """Always available: every section from what is known (labels with their confidence,
    the measurements, EXIF, the scene, and the score models' scores when given), and what
    to do about it."""

    name = "rules"

    def __init__(self, scores: Mapping[str, ScoreDistribution] | None = None, *,
                 labels: list[tuple[str, float]] | tuple = (), scene=None) -> None:
        self.scores = dict(scores or {})
        self.labels, self.scene = tuple(labels or ()), scene

    def writes(self, section: str) -> bool:
        return True

    def stream(self, analysis, request, cancel=None):
        known = f"{scores_text(self.scores)}\n{advice_text(analysis, self.scene)}"
        self.grounds = grounds_of(analysis, self.labels, self.scene, known)
        yield from super().stream(analysis, request, cancel)

    def section(self, section, analysis, request, cancel):
        grounds = self.grounds
        if section == "description":
            yield CritiqueEvent("text", section, prose.describe(grounds, request.persona) + "\n")
        elif section == "impression":
            yield CritiqueEvent("text", section, prose.impression(grounds, request.persona) + "\n")
        elif section == "emotion":
            yield CritiqueEvent("text", section, prose.emotion_text(grounds) + "\n")
        elif section == "evaluation":
            issues = [(item.category, item.evidence)
                      for item in advice_of(analysis, self.scene).suggestions]
            lead = prose.evaluation_lead(grounds, issues)
            if lead:
                yield CritiqueEvent("text", section, lead + "\n")
            yield from evidence_events(list(grounds.facts))
            if self.scores:
                yield CritiqueEvent("text", "evaluation",
                                    f"Score: {' '.join(score_sentences(self.scores))}\n")
        elif section == "suggestions":
            advice = advice_of(analysis, self.scene)
            yield from suggestion_events(advice.suggestions, advice.set_aside)


class LanguageCritic(Critic):
    """Every section, written by a language model and grounded in the measurements.

    The photo is prepared once per critique (:class:`PhotoPrompts`) and a VLM
    encodes it once, for its rating and every section alike.
    """

    def __init__(self, lm: LanguageModel, *, labels: list[tuple[str, float]] | tuple = (),
                 scores: str = "", scene=None) -> None:
        self.lm = lm
        self.name = lm.name
        self.labels, self.scores, self.scene = tuple(labels or ()), scores, scene
        # the sentence check's tables, built while the photo is prepared, not mid-stream
        threading.Thread(target=grounding_warm, name="critique-grounding-warm",
                         daemon=True).start()

    def writes(self, section: str) -> bool:
        return True

    def stream(self, analysis, request, cancel=None):
        cancel = cancel or threading.Event()
        facts = facts_of(analysis)
        self._context = PromptContext(request.persona, facts_text(facts), self.scores,
                                      "" if self.lm.kind == VLM else labels_text(self.labels),
                                      sees_photo=self.lm.kind == VLM)
        self._facts = facts
        self.grounds = grounds_of(analysis, self.labels, self.scene,
                                  f"{self.scores}\n{advice_text(analysis, self.scene)}", facts)
        self._photo = PhotoPrompts(self.lm, analysis.photo.pixels, tiling=request.tiling)
        if self.lm.kind == VLM and request.vlm_score:
            yield from self._rating(cancel)
            if cancel.is_set():
                yield CritiqueEvent("cancelled")
                return
        yield from super().stream(analysis, request, cancel)

    def _rating(self, cancel):
        """The model's own zero-shot rating: optional, so its failure never stops the critique."""
        from critique_app.core.critic.vlm_score import vlm_score

        try:
            yield CritiqueEvent("score", data=vlm_score(self.lm, self._photo,
                                                        cancel=cancel).to_dict())
        except Cancelled:
            return
        except Exception as error:  # an optional extra; the critique goes on
            log.warning("the VLM rating by %s failed", self.lm.name, exc_info=True)
            yield CritiqueEvent("notice", text=f"{self.lm.name} could not rate the photo "
                                f"({failure_reason(error)}); the critique goes on without it")

    def section(self, section, analysis, request, cancel):
        if section == "emotion":
            yield from self._emotion(request, cancel)
            return
        extra = ""
        if section == "suggestions":
            advice = advice_of(analysis, self.scene)
            yield from suggestion_events(advice.suggestions, advice.set_aside)
            if self.lm.kind != VLM:
                return  # a model that cannot see the photo has nothing true to add here
            extra = suggestions_prompt(advice.suggestions, advice.set_aside)
            yield CritiqueEvent("text", section, "\nAlso: ")
        messages = section_messages(self._context, section, extra=extra)
        inputs = self._photo.inputs(render_prompt(self.lm, messages))
        gate = self._gate()
        for chunk in stream_generate(self.lm.model, self.lm.tokenizer, inputs,
                                     request.generation, cancel=cancel):
            for text in gate.feed(chunk):
                yield CritiqueEvent("text", section, text)
        yield from self._checked_end(gate, section, request, cancel)
        if section == "evaluation" and not cancel.is_set():
            yield CritiqueEvent("text", section, "\n\nMeasured:\n")
            yield from evidence_events(self._facts)

    def _gate(self, prefix: str = "") -> SentenceGate:
        return SentenceGate(self.grounds, sees_photo=self.lm.kind == VLM, prefix=prefix)

    def _checked_end(self, gate: SentenceGate, section: str, request: CritiqueRequest,
                     cancel: threading.Event, replacement: str | None = None
                     ) -> Iterator[CritiqueEvent]:
        """The gate's last sentence; the fact-based text where the model's was all removed;
        and a notice counting what was removed or marked."""
        for text in gate.close():
            yield CritiqueEvent("text", section, text)
        replaced = False
        if gate.removed and not gate.kept and not cancel.is_set():
            replacement = replacement if replacement is not None else \
                self._fact_based(section, request)
            if replacement:
                yield CritiqueEvent("text", section, replacement)
                replaced = True
        title = SECTIONS[section].title
        if gate.removed:
            yield CritiqueEvent("notice", section, removed_notice(title, gate.removed, replaced),
                                data={"removed": [r.to_dict() for r in gate.removed]})
        if gate.marked:
            count = len(gate.marked)
            yield CritiqueEvent("notice", section,
                                f"{title}: {count} statement{'s' if count > 1 else ''} marked: "
                                "they contradict the measurements",
                                data={"marked": [r.to_dict() for r in gate.marked]})

    def _fact_based(self, section: str, request: CritiqueRequest) -> str:
        if section == "description":
            return prose.describe(self.grounds, request.persona)
        if section == "impression":
            return prose.impression(self.grounds, request.persona)
        return ""

    def _emotion(self, request, cancel):
        messages = section_messages(self._context, "emotion")
        prompt = render_prompt(self.lm, messages, answer_prefix=emotions.ANSWER_PREFIX)
        try:
            reading = emotions.read_emotion(self.lm, self._photo.inputs(prompt), cancel=cancel)
        except Cancelled:
            return
        yield CritiqueEvent("emotion", "emotion", data=reading.to_dict())
        yield CritiqueEvent("text", "emotion", f"{reading.category.capitalize()}. ")
        if cancel.is_set():
            return
        explain = render_prompt(self.lm, messages,
                                answer_prefix=emotions.explanation_prefix(reading.category))
        yield CritiqueEvent("text", "emotion", "It evokes this because")
        gate = self._gate(prefix="It evokes this because")
        reason = prose.emotion_reason(self.grounds)
        started = False  # once the clause after "because" is there, later sentences follow it
        for chunk in stream_generate(self.lm.model, self.lm.tokenizer, self._photo.inputs(explain),
                                     request.generation, cancel=cancel):
            for text in gate.feed(chunk):
                yield CritiqueEvent("text", "emotion", text)
                started = True
            if not started and gate.removed:  # its first sentence went: the facts finish it
                yield CritiqueEvent("text", "emotion", reason + " ")
                started = True
        yield from self._checked_end(gate, "emotion", request, cancel,
                                     replacement="" if started else reason)
