"""Critique rows as training examples, written in the app's own prompts.

An adapter only helps the app if it learns to answer the prompts the app
asks at inference, so every example is built by the critic's own code:
``section_messages`` (persona, measured facts, the section's task),
``render_prompt`` (the model's chat template, the photo's place) and, for a
VLM, the model's processor. The target is the row's text for that section,
framed the way the chat template frames an assistant turn (so the model also
learns to end its answer). Only target tokens carry a label; the rest is -100.

- Emotion rows (ArtEmis style) answer the emotion prompt the way the app
  reads it: the app appends "The photo evokes" to the prompt, scores the nine
  categories as its continuation, then asks for the reason after
  "The photo evokes <category>, because". The target is therefore
  " <category>, because <explanation>".
- Suggestions are trained for VLMs only (a text-only model writes none in the
  app), with the same "Measured problems and fixes" block in the prompt.
- Truncation rule: the prompt (photo tokens, persona, facts, task) is never
  cut; the target is cut at its end to fit ``max_length``, and an example whose
  prompt leaves fewer than :data:`MIN_TARGET_TOKENS` target tokens is left out
  (and reported) before training starts.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from critique_app.core.critic.chat import render_prompt, to_pil, with_image
from critique_app.core.critic.emotion import ANSWER_PREFIX
from critique_app.core.critic.loading import VLM, LanguageModel
from critique_app.core.critic.personas import DEFAULT_PERSONA, all_personas
from critique_app.core.critic.prompts import PromptContext, section_messages
from critique_app.core.critic.sections import EMOTIONS, VAD_ANCHORS
from critique_app.core.util.errors import CritiqueError
from critique_app.core.util.files import write_text_atomically
from train.data.impressions import persona_traits
from train.data.records import CritiqueRow

IGNORE = -100  # the label of a token the loss skips
MIN_TARGET_TOKENS = 8
SAVE_EVERY = 200  # photos measured between saves of the grounding cache
_MARK = "QQANSWERQQ"  # stands for the answer when reading how a template frames one


@dataclass(frozen=True)
class Example:
    """One (photo, section) pair to learn. ``target`` is the answer text alone."""

    image: Path
    section: str
    persona: str  # a persona name the app knows
    target: str
    emotion: str | None  # the row's ArtEmis category, for the VAD / contrastive heads
    line: int


@dataclass(frozen=True)
class Grounding:
    """What the app measures about a photo and puts in its prompts."""

    facts: str  # "- sentence" lines
    suggestions: str  # the suggestions prompt's extra block ("" when nothing needs fixing)
    labels: str  # ImageNet labels for text-only models ("" when no classifier is installed)
    image_tokens: int = 0  # VLM: how many tokens the processor turns the photo into, minus one


# --- rows -> examples -------------------------------------------------------------------


def rows_for_persona(rows: Sequence[CritiqueRow], persona: str | None) -> list[CritiqueRow]:
    """The rows written by annotators with this trait (Impressions' "introvert+novice" rows
    count for both traits); all rows when ``persona`` is None."""
    if not persona:
        return list(rows)
    return [row for row in rows if persona in persona_traits(row.persona)]


def emotion_answer(category: str, explanation: str | None) -> str:
    """What follows the app's "The photo evokes" for this category and reason."""
    reason = (explanation or "").strip()
    if not reason:
        return f" {category}."
    first = reason.split()[0]
    if first[:1].isupper() and first[1:].islower() and first != "I":
        reason = reason[0].lower() + reason[1:]  # "The sky ..." reads on after "because"
    return f" {category}, because {reason}"


def build_examples(rows: Sequence[CritiqueRow], sections: Sequence[str], kind: str, *,
                   persona: str | None = None) -> tuple[list[Example], Counter[str]]:
    """One example per row and wanted section it has text for, and what was left out.

    ``persona``: every example speaks as this persona (a persona-specific adapter).
    Otherwise a row whose persona the app knows speaks as it, and any other as the
    default critic.
    """
    known = all_personas()
    examples: list[Example] = []
    left_out: Counter[str] = Counter()
    for row in rows:
        speaker = persona or (row.persona if row.persona in known else DEFAULT_PERSONA)
        for section in sections:
            text = " ".join((row.sections.get(section) or "").split())
            if section == "suggestions" and kind != VLM:
                left_out["suggestions (a text-only model writes none)"] += bool(text)
                continue
            if section == "emotion":
                if not row.emotion:
                    left_out["emotion texts without an emotion category"] += bool(text)
                    continue
                text = emotion_answer(row.emotion, row.explanation or text)
            if text:
                examples.append(Example(Path(row.image), section, speaker, text, row.emotion,
                                        row.line))
    return examples, +left_out


# --- what the app measures, once per photo ------------------------------------------------


class GroundingCache:
    """Facts, suggestions and labels per photo, computed with the app's ``analyze`` once
    and kept in ``path`` (a JSON file), so a resumed run does not analyse again."""

    def __init__(self, path: Path | None, *, labels: bool, image_tokens: Callable | None = None):
        self.path = Path(path) if path else None
        self.labels = labels  # text-only models are told what the classifier sees
        self.image_tokens = image_tokens  # pixels -> extra tokens (VLMs)
        self.entries: dict[str, Grounding] = {}
        if self.path and self.path.is_file():
            stored = json.loads(self.path.read_text(encoding="utf-8"))
            self.entries = {key: Grounding(**value) for key, value in stored.items()}

    def __getitem__(self, image: Path) -> Grounding:
        return self.entries[_key(image)]

    def prepare(self, images: Sequence[Path], log: Callable[[str], None] = print
                ) -> dict[Path, str]:
        """Analyse every photo not yet known; returns the unreadable ones with why."""
        failures: dict[Path, str] = {}
        todo = [image for image in dict.fromkeys(images) if _key(image) not in self.entries]
        for done, image in enumerate(todo, 1):
            try:
                self.entries[_key(image)] = self._measure(image)
            except CritiqueError as error:
                failures[image] = str(error)
            if done % SAVE_EVERY == 0 or done == len(todo):
                self._save()
                if done < len(todo):
                    log(f"measured {done} of {len(todo)} photos for the prompts")
        return failures

    def _save(self) -> None:
        if self.path:
            write_text_atomically(self.path, json.dumps(
                {key: asdict(value) for key, value in self.entries.items()}))

    def _measure(self, image: Path) -> Grounding:
        from critique_app.core.analysis.analyzer import analyze
        from critique_app.core.critic.critics import advice_of, facts_of
        from critique_app.core.critic.facts import facts_text
        from critique_app.core.critic.suggestions import suggestions_prompt
        from critique_app.core.scene import recognise_scene

        analysis = analyze(image)
        # what LanguageCritic adds for a VLM: the advice fitted to the scene (a VLM is given
        # no labels, so the scene is read from the measurements and EXIF) with what it set aside
        advice = advice_of(analysis, recognise_scene(analysis, None))
        extra = suggestions_prompt(advice.suggestions, advice.set_aside)
        labels = ""
        if self.labels:
            from critique_app.core.scene.labels import imagenet_labels, labels_text
            from critique_app.core.store.store import ModelStore

            labels = labels_text(imagenet_labels(analysis.photo.pixels, ModelStore()))
        tokens = self.image_tokens(analysis.photo.pixels) if self.image_tokens else 0
        return Grounding(facts_text(facts_of(analysis)), extra, labels, tokens)


def _key(image: Path) -> str:
    """A photo's identity: its path, size and modification time (an edited photo is new)."""
    stat = Path(image).stat() if Path(image).exists() else None
    stamp = f"{stat.st_size}:{stat.st_mtime_ns}" if stat else "missing"
    return f"{Path(image).resolve()}|{stamp}"


# --- prompts and tokens -------------------------------------------------------------------


class PromptMaker:
    """The app's prompt for an example, and the answer framed as the template frames one."""

    def __init__(self, lm: LanguageModel) -> None:
        self.lm = lm
        self.lead, self.turn_end = answer_frame(lm)
        self.personas = all_personas()

    def texts(self, example: Example, grounding: Grounding) -> tuple[str, str]:
        """(prompt, answer); the model is trained on the answer's tokens."""
        vlm = self.lm.kind == VLM
        context = PromptContext(self.personas[example.persona], grounding.facts, "",
                                "" if vlm else grounding.labels, sees_photo=vlm)
        if example.section == "emotion":
            prompt = render_prompt(self.lm, section_messages(context, "emotion"),
                                   answer_prefix=ANSWER_PREFIX)
            return prompt, example.target + self.turn_end
        extra = grounding.suggestions if example.section == "suggestions" else ""
        prompt = render_prompt(self.lm, section_messages(context, example.section, extra=extra))
        return prompt, self.lead + example.target + self.turn_end


def answer_frame(lm: LanguageModel) -> tuple[str, str]:
    """(what comes between the prompt and an answer, what ends the answer), read from the
    chat template itself: SmolVLM's is (" ", "<end_of_utterance>"), ChatML's ("", "<|im_end|>")."""
    messages = [{"role": "user", "content": "x"}]
    prompt = render_prompt(lm, messages)
    owner = lm.tokenizer if getattr(lm.tokenizer, "chat_template", None) else lm.text_tokenizer
    eos = lm.text_tokenizer.eos_token or ""
    if not getattr(owner, "chat_template", None):
        return " ", eos
    conversation = [*messages, {"role": "assistant", "content": _MARK}]
    full = owner.apply_chat_template(with_image(conversation) if lm.kind == VLM
                                     else conversation, tokenize=False)
    if not full.startswith(prompt) or _MARK not in full:
        return " ", eos  # a template that rewrites earlier turns: fall back to plain text
    at = full.index(_MARK)
    return full[len(prompt):at], full[at + len(_MARK):].rstrip()


def answer_length(text_tokenizer, prompt: str, full: str) -> int:
    """Tokens of ``full`` that belong to the answer: those after the longest prefix it
    shares with the prompt's tokens (a token spanning the boundary counts as answer)."""
    a = text_tokenizer(prompt, add_special_tokens=False)["input_ids"]
    b = text_tokenizer(full, add_special_tokens=False)["input_ids"]
    shared = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared += 1
    return len(b) - shared


class ImageTokenCounter:
    """pixels -> how many more tokens the processor makes of the photo than of its
    placeholder (Idefics3 splits a photo into tiles: the count depends on its shape)."""

    def __init__(self, processor, lm: LanguageModel) -> None:
        self.processor = processor
        self.prompt = render_prompt(lm, [{"role": "user", "content": "x"}])
        self.plain = len(processor.tokenizer(self.prompt)["input_ids"])

    def __call__(self, pixels) -> int:
        encoded = self.processor(images=[to_pil(pixels)], text=self.prompt)
        return len(encoded["input_ids"][0]) - self.plain


class CritiqueSamples(torch.utils.data.Dataset):
    """Tokenised examples: input ids, labels (answer only), the photo's tensors for a VLM,
    and the row's emotion (index and VAD anchor) for the auxiliary heads."""

    def __init__(self, examples: list[Example], maker: PromptMaker, groundings: GroundingCache,
                 max_length: int) -> None:
        self.examples, self.maker, self.groundings = examples, maker, groundings
        self.max_length = max_length
        self.sizes: list[tuple[int, int]] = []  # (prompt, answer) tokens, once measured

    def __len__(self) -> int:
        return len(self.examples)

    def texts(self, index: int) -> tuple[str, str]:
        example = self.examples[index]
        return self.maker.texts(example, self.groundings[example.image])

    def lengths(self, index: int) -> tuple[int, int]:
        """(prompt tokens, answer tokens) as the model will see them, before truncation."""
        prompt, answer = self.texts(index)
        tokenizer = self.maker.lm.text_tokenizer
        vlm = self.maker.lm.kind == VLM
        prompt_ids = tokenizer(prompt, add_special_tokens=vlm)["input_ids"]
        extra = self.groundings[self.examples[index].image].image_tokens
        return len(prompt_ids) + extra, answer_length(tokenizer, prompt, prompt + answer)

    def __getitem__(self, index: int) -> dict:
        example = self.examples[index]
        prompt, answer = self.texts(index)
        full = prompt + answer
        lm = self.maker.lm
        if lm.kind == VLM:
            from critique_app.core.photo import load_photo

            pixels = load_photo(example.image).pixels
            encoded = lm.tokenizer(images=[to_pil(pixels)], text=full, return_tensors="pt")
        else:
            encoded = lm.tokenizer(full, return_tensors="pt", add_special_tokens=False)
        item = {key: value[0] for key, value in encoded.items() if hasattr(value, "shape")}
        ids = item["input_ids"]
        answer_tokens = answer_length(lm.text_tokenizer, prompt, full)
        labels = torch.full_like(ids, IGNORE)
        labels[len(ids) - answer_tokens:] = ids[len(ids) - answer_tokens:]
        item["labels"] = labels
        length = len(ids)
        for key, value in item.items():  # the rule: only the answer's end is ever cut
            if value.dim() == 1 and len(value) == length:
                item[key] = value[: self.max_length]
        emotion = example.emotion
        item["target_emotion"] = torch.tensor(EMOTIONS.index(emotion) if emotion else -1)
        item["target_vad"] = torch.tensor(VAD_ANCHORS[emotion] if emotion else (0.0,) * 3)
        return item


class PadCollator:
    """Right-pads a batch: token ids with the pad id, labels with -100, masks with 0; the
    photo tensors are zero-padded to the largest (Idefics3 drops all-zero tiles)."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, items: list):
        items = [item for item in items if item is not None]
        if not items:
            return None
        lengths = [len(item["input_ids"]) for item in items]
        batch = {}
        for key in items[0]:
            values = [item[key] for item in items]
            if all(v.dim() == 1 and len(v) == n for v, n in zip(values, lengths, strict=True)):
                fill = self.pad_id if key == "input_ids" else IGNORE if key == "labels" else 0
                batch[key] = torch.nn.utils.rnn.pad_sequence(values, batch_first=True,
                                                             padding_value=fill)
            else:
                batch[key] = _stack_padded(values)
        return batch


def _stack_padded(values: list[torch.Tensor]) -> torch.Tensor:
    shape = [max(v.shape[d] for v in values) for d in range(values[0].dim())]
    out = values[0].new_zeros((len(values), *shape))
    for i, value in enumerate(values):
        out[(i, *(slice(0, n) for n in value.shape))] = value
    return out


def data_fingerprint(examples: Sequence[Example]) -> str:
    """A short hash of what is trained on, for resume checks."""
    digest = hashlib.sha1()
    for e in examples:
        digest.update(f"{e.image}|{e.section}|{e.persona}|{e.emotion}|{e.target}\n".encode())
    return digest.hexdigest()[:16]
