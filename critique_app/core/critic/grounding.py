"""Nothing invented: every sentence of a critique checked against what is known.

What is known (:class:`Grounds`) is the classifier's labels with their confidence,
the measured facts and raw measurements, EXIF and, when recognised, the scene.
:func:`check_sentence` lists what a sentence says that those do not support
(``unsupported``: places, people, events, objects, times, numbers that differ from
the measurements) and what they contradict (``contradicts``: "the horizon is
level" when it tilts 4°, "sharp" when the subject is soft, ...).

A text-only model cannot see the photo, so its sentences with either finding are
dropped (:class:`SentenceGate`); a vision model can, so only contradictions are
marked, with :data:`MARK_PREFIX` after the sentence. Deterministic and offline:
the word lists are ``grounding_words.json`` beside this module, the object names
are ImageNet's (timm).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from critique_app.core.critic.facts import Fact, number

MARK_PREFIX = "[contradicts the measurements: "
MAX_PENDING_CHARS = 240  # text with no sentence end yet, checked as it stands past this
REMOVED_NOTE = "not supported by what was measured"
_WORDS_FILE = Path(__file__).with_name("grounding_words.json")

# Thresholds for contradictions: deliberately past the suggestion thresholds, so a
# mark means the measurement clearly says otherwise.
LEVEL_MAX_DEG = 0.3  # "tilted" contradicted below this
TILTED_MIN_DEG = 0.7  # "level" contradicted from this (suggestions' TILT_MIN_DEG)
SOFT_SUBJECT = 0.5  # "sharp" contradicted below this sharpness (1 = crisp)
CRISP_GLOBAL = 0.85  # "blurry" contradicted above this overall sharpness ...
CRISP_MAX_BLURRED_PCT = 10.0  # ... with at most this much of the frame blurred
DARK_EV, BRIGHT_EV = -1.5, 1.5
MUTED_M, COLOURFUL_M = 15.0, 33.0  # Hasler-Süsstrunk colourfulness
CLEAN_SIGMA, NOISY_SIGMA = 1.5, 5.0
ISOLATED_MAX_RATIO, CRISP_BACKGROUND = 1.05, 0.9
OFF_CENTRE, OFF_THIRDS = 0.25, 0.15


@dataclass(frozen=True)
class Finding:
    kind: str  # "unsupported" | "contradicts"
    what: str  # "the place 'Egypt'", "the horizon tilts 4.1° clockwise"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "what": self.what}


@dataclass(frozen=True)
class Grounds:
    """Everything a critique may rest on."""

    labels: tuple[tuple[str, float], ...] = ()
    facts: tuple[Fact, ...] = ()
    measurements: Mapping[str, object] = field(default_factory=dict)
    exif: object | None = None  # photo.decoded.ExifSummary
    scene: object | None = None  # scene.Scene (kinds with .name/.confidence, .light)
    known_text: str = ""  # more text whose numbers may be quoted (scores, label line)


@dataclass
class Removed:
    sentence: str
    findings: list[Finding]

    def to_dict(self) -> dict:
        return {"sentence": self.sentence, "findings": [f.to_dict() for f in self.findings]}


# --- vocabulary ----------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def words() -> dict:
    return json.loads(_WORDS_FILE.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def imagenet() -> tuple[list[list[str]], dict[str, int]]:
    """Each class's names (lowercase synonyms), and the index of each class's first name."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    names = [[s.strip().lower() for s in info.index_to_description(i).split(",") if s.strip()]
             for i in range(1000)]
    index: dict[str, int] = {}
    for i, synonyms in enumerate(names):
        index.setdefault(synonyms[0], i)
    return names, index


def warm() -> None:
    """Build the word tables now: the ImageNet phrase pattern takes seconds to compile the
    first time, and a first sentence checked mid-stream would hold up a Ctrl-C that long."""
    _object_phrases()


@functools.lru_cache(maxsize=1)
def _object_phrases() -> re.Pattern:
    """Every ImageNet name a critique would not use in another sense, longest first."""
    ignore = set(words()["imagenet_ignore"])
    phrases = {s for synonyms in imagenet()[0] for s in synonyms
               if s not in ignore and len(s) > 2 and not _latin(s)}
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(p) for p in ordered) + r")(?:e?s)?\b")


def _latin(name: str) -> bool:
    """A binomial like 'tinca tinca': never in a critique, and noisy to match."""
    parts = name.split()
    return len(parts) == 2 and parts[0].endswith(("us", "a", "is", "es")) and \
        parts[1].endswith(("us", "a", "is", "i", "um"))


def group_of(index: int) -> tuple[str, list[str]] | None:
    for name, spec in words()["groups"].items():
        if name.startswith("_"):
            continue
        ranges, group_words = spec
        if any(first <= index <= last for first, last in ranges):
            return name, group_words
    return None


def label_index(label: str) -> int | None:
    return imagenet()[1].get(label.strip().lower())


@dataclass(frozen=True)
class _Support:
    phrases: tuple[str, ...]  # label names and synonyms, masked before any check
    words: frozenset[str]  # lowercase words the facts support
    people: bool
    topic: frozenset[str] = frozenset()  # words that show a sentence is about this photo


def support_of(grounds: Grounds) -> _Support:
    names, _ = imagenet()
    phrases: set[str] = set()
    supported: set[str] = set()
    people = False
    for label, _probability in grounds.labels:
        phrases.add(label.lower())
        index = label_index(label)
        if index is not None:
            phrases.update(names[index])
            group = group_of(index)
            if group:
                supported.update(group[1])
                people = people or group[0] == "person"
    for phrase in phrases:
        supported.update(re.findall(r"[a-z][a-z'-]*", phrase))
    table = words()
    for kind in _scene_kinds(grounds.scene):
        supported.update(table["scene_words"].get(kind, []))
        people = people or kind == "portrait"
    light = getattr(grounds.scene, "light", None)
    if light:
        supported.update(table["light_words"].get(light, []))
    known = [f.sentence for f in grounds.facts] + [grounds.known_text, exif_text(grounds.exif)]
    for kind in getattr(grounds.scene, "kinds", ()) or ():
        known.extend(getattr(cue, "text", "") for cue in getattr(kind, "cues", ()))
    known.extend(getattr(c, "text", "") for c in getattr(grounds.scene, "light_cues", ()) or ())
    for text in known:  # what the facts themselves say ("middle grey", "deep blue sky")
        supported.update(w.lower() for w in _WORD.findall(text))
    faces = number(grounds.measurements, "faces.count")
    if faces:
        people = True
        supported.update(["face", "faces", "eyes"])
    topic = set(table["topic"]) | {w for p in phrases for w in re.findall(r"[a-z][a-z'-]*", p)}
    for label, _probability in grounds.labels:
        index = label_index(label)
        group = group_of(index) if index is not None else None
        topic.update(group[1] if group else ())
    for kind in _scene_kinds(grounds.scene):
        topic.update(table["scene_words"].get(kind, []))
        topic.update(kind.split("-"))
    return _Support(tuple(sorted(phrases, key=len, reverse=True)), frozenset(supported), people,
                    frozenset(topic))


def off_the_photo(sentence: str, support: _Support) -> Finding | None:
    """A sentence that names nothing a critique of this photo is about (no label, scene or
    photographic word): a text-only model's musing ("This highlights the importance of
    accurate data collection")."""
    words = {w.lower().strip("'’-") for w in _WORD.findall(sentence)}
    if len(words) < 4 or words & support.topic:
        return None
    return Finding("unsupported", "nothing about this photo")


def _scene_kinds(scene) -> list[str]:
    if scene is None:
        return []
    return [k.name for k in getattr(scene, "kinds", ()) if getattr(k, "confidence", 0) >= 0.5]


# --- numbers -------------------------------------------------------------------------

_NUMBER = re.compile(
    r"(?P<fstop>\bf/\s?(?P<f>\d+(?:\.\d+)?))"
    r"|(?P<shutter>\b1/(?P<sh>\d+)(?:\s?(?:s|sec|seconds?)\b)?)"
    r"|(?P<isotag>\bISO\s?(?P<iso>\d+))"
    r"|(?P<value>(?<![\w./])-?\d+(?:\.\d+)?)(?:\s?(?P<unit>%|percent\b|EV\b|stops?\b|°|degrees?\b"
    r"|mm\b|px\b|pixels?\b|seconds?\b|s\b|minutes?\b|min\b|hours?\b|M\b|levels?\b))?",
    re.IGNORECASE)
_UNITS = {"%": "pct", "percent": "pct", "ev": "ev", "stop": "ev", "stops": "ev", "°": "deg",
          "degree": "deg", "degrees": "deg", "mm": "mm", "px": "px", "pixel": "px",
          "pixels": "px", "second": "s", "seconds": "s", "s": "s", "m": "m", "minute": "min",
          "minutes": "min", "min": "min", "hour": "h", "hours": "h", "level": "levels",
          "levels": "levels"}


@dataclass(frozen=True)
class Quoted:
    value: float
    unit: str | None  # pct, ev, deg, f, shutter, iso, mm, px, s, m, levels, year; None bare
    decimals: int
    text: str


def quoted_numbers(text: str) -> list[Quoted]:
    found = []
    for match in _NUMBER.finditer(text):
        if match["fstop"]:
            found.append(Quoted(float(match["f"]), "f", _decimals(match["f"]), match[0]))
        elif match["shutter"]:
            found.append(Quoted(float(match["sh"]), "shutter", 0, match[0]))
        elif match["isotag"]:
            found.append(Quoted(float(match["iso"]), "iso", 0, match[0]))
        else:
            raw = match["value"]
            unit = _UNITS.get((match["unit"] or "").lower())
            value = abs(float(raw))
            if unit is None and "." not in raw and 1800 <= value <= 2100:
                unit = "year"
            found.append(Quoted(value, unit, _decimals(raw), match[0].strip()))
    return found


def _decimals(raw: str) -> int:
    return len(raw.split(".")[1]) if "." in raw else 0


def known_numbers(grounds: Grounds) -> list[Quoted]:
    texts = [f.sentence for f in grounds.facts]
    texts.append(grounds.known_text)
    texts.append(", ".join(f"{name} ({p:.0%})" for name, p in grounds.labels))
    texts.append(exif_text(grounds.exif))
    for kind in getattr(grounds.scene, "kinds", ()) or ():
        texts.extend(getattr(cue, "text", "") for cue in getattr(kind, "cues", ()))
    known = [q for text in texts for q in quoted_numbers(text)]
    for key, value in grounds.measurements.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            unit = "pct" if key.endswith("_pct") else "deg" if key.endswith("_deg") else \
                "ev" if key.endswith(".ev_vs_middle_grey") else None
            known.append(Quoted(abs(float(value)), unit, 3, key))
    return known


def _matches(quoted: Quoted, known: Quoted) -> bool:
    tolerance = 0.5 * 10 ** -quoted.decimals + 1e-6
    return abs(quoted.value - known.value) <= max(tolerance, 0.01 * known.value)


def _number_supported(quoted: Quoted, known: list[Quoted]) -> bool:
    if quoted.unit is None and quoted.decimals == 0:
        return True  # a bare whole number: a count or a scale ("1 = crisp"), not a measurement
    same = [k for k in known if k.unit == quoted.unit or quoted.unit is None]
    return any(_matches(quoted, k) for k in same)


def exif_text(exif) -> str:
    if exif is None:
        return ""
    parts = []
    if getattr(exif, "shutter_text", None):
        parts.append(exif.shutter_text)
    if getattr(exif, "aperture_f", None):
        parts.append(f"f/{exif.aperture_f:g}")
    if getattr(exif, "iso", None):
        parts.append(f"ISO {exif.iso}")
    for attribute in ("focal_length_mm", "focal_length_35mm"):
        if getattr(exif, attribute, None):
            parts.append(f"{getattr(exif, attribute):g} mm")
    if getattr(exif, "exposure_bias_ev", None) is not None:
        parts.append(f"{exif.exposure_bias_ev:+g} EV")
    if getattr(exif, "taken_at", None):
        parts.append(str(exif.taken_at)[:4])
    return ", ".join(parts)


# --- what a sentence says that is not known --------------------------------------------

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
# grounding_words.json lists -> how an unsupported word of each is named, checked in order
_WORD_KINDS = (("claims", "claim"), ("times", "time"), ("nouns", "object"), ("story", "story"),
               ("actions", "action"), ("colours", "colour"))


def unsupported(sentence: str, grounds: Grounds, support: _Support | None = None,
                known: list[Quoted] | None = None) -> list[Finding]:
    support = support or support_of(grounds)
    table = words()
    masked = sentence
    for phrase in support.phrases:  # "Egyptian cat" is the label; "Egypt" is not
        masked = re.sub(rf"\b{re.escape(phrase)}(?:e?s)?\b", " ", masked, flags=re.IGNORECASE)
    findings: list[Finding] = []
    seen: set[str] = set()

    def add(what: str) -> None:
        if what not in seen:
            seen.add(what)
            findings.append(Finding("unsupported", what))

    places = set(table["places"])
    allowed_caps = set(table["allowed_capitals"])
    for position, found in enumerate(_WORD.finditer(masked)):
        token = found[0].strip("'’-")
        if not token:
            continue
        opens = position == 0 or masked[:found.start()].rstrip()[-1:] in (":", ";", "(", "—")
        lower = token.lower().removesuffix("'s").removesuffix("’s")
        if lower in support.words:
            continue
        if token in places or token.removesuffix("'s") in places:
            add(f"the place '{token}'")
        elif lower in table["events"]:
            add(f"the event '{lower}'")
        elif lower in table["people"] and not support.people:
            add(f"people ('{lower}')")
        elif kind := next((kind for key, kind in _WORD_KINDS if lower in table[key]), None):
            add(f"the {kind} '{lower}'")
        elif (token[0].isupper() and not opens
              and token not in allowed_caps and lower not in support.words
              and not token.isupper()):
            add(f"the name '{token}'")
    for term, attribute in table["exif_terms"].items():
        if re.search(rf"\b{term}\b", masked, re.IGNORECASE) and \
                getattr(grounds.exif, attribute, None) in (None, False):
            add(f"the setting '{term}' (not in the EXIF)")
    for phrase in (p for p in table["actions"] if " " in p):
        if phrase in masked.lower():
            add(f"the action '{phrase}'")
    for match in _object_phrases().finditer(masked.lower()):
        name = match[1]
        if not any(w in support.words for w in name.split()):
            add(f"the object '{name}'")
    known = known if known is not None else known_numbers(grounds)
    for quoted in quoted_numbers(sentence):
        if not _number_supported(quoted, known):
            add(f"the number '{quoted.text}'")
    return findings


# --- what a sentence says that the measurements contradict -----------------------------

_NEGATION = re.compile(r"\b(not|no|never|lacks?|lacking|without|hardly|isn't|aren't|wasn't|"
                       r"doesn't|don't|n't)\b[^.,;]{0,25}$")
_CLAIMS: tuple[tuple[str, str], ...] = (
    ("isolated", r"shallow depth of field|blurr?ed background|background is (?:softly )?blurr?ed|"
                 r"bokeh|soft background|background blur|out-of-focus background|"
                 r"background (?:falls|is) out of focus|isolates? (?:the|its) subject"),
    ("level", r"(?:level|straight) horizon|horizon\b[^.]{0,30}?\b(?:level|straight)\b|"
              r"(?:perfectly|nicely|well|dead) level"),
    ("tilted", r"tilted|tilts|tilting|crooked|slanted|slanting|askew|off-level|sloping horizon"),
    ("sharp", r"tack-sharp|razor-sharp|pin-sharp|sharply focused|in sharp focus|in focus|"
              r"well[- ]focused|crisp(?:ly)? (?:detail|focus)|is (?:very |perfectly )?sharp|"
              r"sharp (?:subject|image|photo|photograph|focus|detail)"),
    ("blurred", r"blurry|out of focus|out-of-focus|unsharp|fuzzy|(?:photo|image|picture|subject)"
                r" is (?:slightly |very )?blurr?ed|motion blur"),
    ("dark", r"underexposed|under-exposed|too dark|(?:photo|image|picture|scene|frame) is "
             r"(?:very |rather |quite )?dark"),
    ("overexposed", r"overexposed|over-exposed|too bright|washed[- ]out|blown[- ]out"),
    ("bright", r"well[- ]exposed|brightly lit|(?:photo|image|picture|scene|frame) is "
               r"(?:very |quite )?bright|bright (?:photo|image|picture|scene|exposure)"),
    ("colourful", r"colou?rful|vibrant|vivid|richly colou?red|rich colou?rs?|bold colou?rs?|"
                  r"saturated colou?rs?"),
    ("monochrome", r"monochrome|black[- ]and[- ]white|greyscale|grayscale|colou?rless|"
                   r"desaturated"),
    ("noisy", r"noisy|grainy|visible noise|noise is visible"),
    ("clean", r"noise-free|free of noise|no (?:visible )?noise|clean (?:file|image|shadows)"),
    ("night", r"at night|night[- ]?time|night sky|after dark"),
    ("daylight", r"daylight|daytime|sunny|sunshine|broad day|midday sun"),
    ("centred", r"(?:subject|it) (?:is |sits )?(?:perfectly |dead )?cent(?:red|ered)|"
                r"cent(?:red|ered) (?:subject|composition)|in the cent(?:re|er) of the frame"),
    ("thirds", r"rule of thirds|on a thirds? (?:line|point)|on the thirds"),
)
_OPPOSITE = {"level": "tilted", "tilted": "level", "sharp": "blurred", "blurred": "sharp",
             "colourful": "monochrome"}


def claims(sentence: str) -> list[str]:
    """The measurable claims a sentence makes, negations flipped where the opposite is clear
    ("not sharp" claims blurred) and dropped otherwise ("not dark" claims nothing)."""
    text = sentence.lower()
    found: list[str] = []
    for claim, pattern in _CLAIMS:
        for match in re.finditer(rf"\b(?:{pattern})\b", text):
            said_words = match[0].rsplit(" ", 1)
            before = text[:match.start()] + (said_words[0] + " " if len(said_words) > 1 else "")
            negated = _NEGATION.search(before) is not None
            said = _OPPOSITE.get(claim) if negated else claim
            if said and said not in found:
                found.append(said)
            text = text[:match.start()] + " " * (match.end() - match.start()) + text[match.end():]
    return found


def contradictions(sentence: str, grounds: Grounds) -> list[Finding]:
    m = grounds.measurements
    out = []
    for claim in claims(sentence):
        fact = _scene_says(claim, grounds.scene) if claim in ("night", "daylight") else \
            _contradicting_fact(claim, m, grounds.facts)
        if fact:
            out.append(Finding("contradicts", fact))
    return out


def _scene_says(claim: str, scene) -> str | None:
    """"At night" in a scene read as daylight, or "sunny" in one read as night."""
    light = getattr(scene, "light", None)
    wrong = (claim == "night" and light == "daylight") or \
        (claim == "daylight" and light in ("night", "blue hour"))
    if not wrong:
        return None
    cues = [c.text for c in getattr(scene, "light_cues", ()) or ()]
    return f"the light reads as {light}" + (f" ({cues[0]})" if cues else "")


def _fact_about(facts: Iterable[Fact], key: str) -> str | None:
    for fact in facts:
        if key in fact.keys:
            text = fact.sentence.rstrip(".")
            return text[0].lower() + text[1:]
    return None


def _contradicting_fact(claim: str, m: Mapping[str, object], facts) -> str | None:
    tilt = number(m, "horizon.tilt_deg")
    subject = number(m, "sharpness.subject")
    overall = number(m, "sharpness.global")
    blurred = number(m, "sharpness.blurred_pct")
    ev = number(m, "exposure.ev_vs_middle_grey")
    clipped = number(m, "exposure.highlights_clipped_pct")
    colour = number(m, "color.colorfulness")
    sigma = number(m, "noise.sigma")
    ratio = number(m, "sharpness.subject_background_ratio")
    background = number(m, "sharpness.background")
    centre = number(m, "subject.centre_distance")
    thirds = number(m, "subject.thirds_distance")
    wrong = {
        "level": tilt is not None and abs(tilt) >= TILTED_MIN_DEG,
        "tilted": tilt is not None and abs(tilt) < LEVEL_MAX_DEG,
        "sharp": (subject if subject is not None else overall) is not None
        and (subject if subject is not None else overall) < SOFT_SUBJECT,
        "blurred": overall is not None and overall >= CRISP_GLOBAL
        and (blurred is None or blurred <= CRISP_MAX_BLURRED_PCT),
        "dark": ev is not None and ev >= 0.5,
        "bright": ev is not None and ev <= DARK_EV,
        "overexposed": ev is not None and ev < 1.0 and (clipped is None or clipped < 0.5),
        "colourful": colour is not None and colour < MUTED_M,
        "monochrome": colour is not None and colour >= COLOURFUL_M,
        "noisy": sigma is not None and sigma < CLEAN_SIGMA,
        "clean": sigma is not None and sigma > NOISY_SIGMA,
        "isolated": ratio is not None and ratio <= ISOLATED_MAX_RATIO
        and background is not None and background >= CRISP_BACKGROUND,
        "centred": centre is not None and centre > OFF_CENTRE,
        "thirds": thirds is not None and thirds > OFF_THIRDS,
    }
    if not wrong.get(claim):
        return None
    if claim == "sharp":
        return (f"the subject's sharpness is {subject:.2f} (1 = crisp)" if subject is not None
                else f"overall sharpness is {overall:.2f} (1 = crisp everywhere)")
    key = {"level": "horizon.tilt_deg", "tilted": "horizon.tilt_deg",
           "sharp": "sharpness.subject" if subject is not None else "sharpness.global",
           "blurred": "sharpness.global", "dark": "exposure.ev_vs_middle_grey",
           "bright": "exposure.ev_vs_middle_grey",
           "overexposed": "exposure.highlights_clipped_pct",
           "colourful": "color.colorfulness", "monochrome": "color.colorfulness",
           "noisy": "noise.sigma", "clean": "noise.sigma",
           "isolated": "sharpness.subject_background_ratio",
           "centred": "subject.centre_distance", "thirds": "subject.thirds_distance"}[claim]
    return _fact_about(facts, key) or f"{key} is {m.get(key)}"


def check_sentence(sentence: str, grounds: Grounds) -> list[Finding]:
    """What ``sentence`` says that the facts do not support, then what they contradict."""
    return unsupported(sentence, grounds) + contradictions(sentence, grounds)


def mark(sentence: str, findings: list[Finding]) -> str:
    """The sentence with its contradictions noted after it, before its trailing space."""
    body = sentence.rstrip()
    tail = sentence[len(body):]
    notes = "; ".join(f.what for f in findings if f.kind == "contradicts")
    return f"{body} {MARK_PREFIX}{notes}]{tail}" if notes else sentence


# --- sentences as they stream ------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<!\b[Ee]\.g)(?<!\b[Ii]\.e)[.!?][\"')\]]*\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences with their trailing whitespace: "".join() gives ``text`` back."""
    parts, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        parts.append(text[start:match.end()])
        start = match.end()
    if start < len(text):
        parts.append(text[start:])
    return parts


class SentenceGate:
    """Streamed text in, checked sentences out.

    ``sees_photo=False`` (a text-only model): a sentence with any finding is dropped
    and kept in :attr:`removed`. ``sees_photo=True`` (a VLM): only contradictions
    count, and the sentence stays, marked.
    """

    def __init__(self, grounds: Grounds, *, sees_photo: bool, prefix: str = "") -> None:
        self.grounds, self.sees_photo = grounds, sees_photo
        self.prefix = prefix  # text the model continues ("It evokes this because"), checked with it
        self.buffer = ""
        self.removed: list[Removed] = []
        self.marked: list[Removed] = []
        self.kept = 0
        self._support = support_of(grounds)
        self._known = known_numbers(grounds)

    def feed(self, chunk: str) -> list[str]:
        self.buffer += chunk
        parts = split_sentences(self.buffer)
        if parts and not _SENTENCE_END.search(parts[-1]):
            self.buffer = parts.pop()
        else:
            self.buffer = ""
        if len(self.buffer) > MAX_PENDING_CHARS:  # a run-on: check it in pieces, so a reader
            cut = self.buffer.rfind(" ", 0, MAX_PENDING_CHARS) + 1 or MAX_PENDING_CHARS
            parts.append(self.buffer[:cut])  # is not left waiting for a full stop
            self.buffer = self.buffer[cut:]
        return [out for part in parts if (out := self._check(part))]

    def close(self) -> list[str]:
        rest, self.buffer = self.buffer, ""
        out = self._check(rest) if rest.strip() else rest
        return [out] if out else []

    def _check(self, sentence: str) -> str:
        if not sentence.strip():
            return sentence
        checked = f"{self.prefix} {sentence.strip()}" if self.prefix else sentence
        self.prefix = ""
        wrong = contradictions(checked, self.grounds)
        if self.sees_photo:
            if wrong:
                self.marked.append(Removed(sentence.strip(), wrong))
                self.kept += 1
                return mark(sentence, wrong)
            self.kept += 1
            return sentence
        findings = unsupported(checked, self.grounds, self._support, self._known) + wrong
        off = off_the_photo(sentence, self._support)  # not the prefix: "evokes" is on topic
        findings += [off] if off else []
        if findings:
            self.removed.append(Removed(sentence.strip(), findings))
            return ""
        self.kept += 1
        return sentence


def removed_notice(section_title: str, removed: list[Removed], replaced: bool) -> str:
    count = len(removed)
    noun = "sentence" if count == 1 else "sentences"
    text = f"{section_title}: {count} {noun} removed: {REMOVED_NOTE}"
    what = sorted({f.what for r in removed for f in r.findings})
    if what:
        text += f" ({', '.join(what[:4])}{', ...' if len(what) > 4 else ''})"
    if replaced:
        text += "; the measured description stands in its place"
    return text


def grounded_text(text: str, grounds: Grounds, *, sees_photo: bool) -> tuple[str, SentenceGate]:
    """All of ``text`` through a gate at once: the kept (or marked) text and the gate."""
    gate = SentenceGate(grounds, sees_photo=sees_photo)
    out = "".join(gate.feed(text)) + "".join(gate.close())
    return out, gate
