"""The rule critique's prose: description, impression, evaluation and emotion written
from what is known, never from what a model imagines.

What the photo shows comes only from the classifier's labels, hedged by their
confidence ("It looks like a cat: ... Egyptian cat 81%, tiger cat 8%, tabby 7%");
the light, colour and framing from the measurements; how it was shot from EXIF;
the kind of scene from the recognised :class:`Scene` when there is one. The
persona changes the voice (plain words for a novice, technique for the
art-experienced), never the facts.
"""

from __future__ import annotations

from critique_app.core.critic.facts import number, word
from critique_app.core.critic.grounding import Grounds, exif_text, group_of, label_index
from critique_app.core.critic.personas import Persona

PULL_LABELS = "critique models pull efficientnet-lite0-imagenet"
SURE, LIKELY = 0.5, 0.2  # label confidence: "looks like" / "may show" / "cannot tell"
ANIMATE_GROUPS = {"fish", "bird", "amphibian", "reptile", "snake", "dog", "wild dog", "cat",
                  "big cat", "bear", "insect", "butterfly", "primate", "person"}


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def _labels_list(labels) -> str:
    return ", ".join(f"{name} {p:.0%}" for name, p in labels)


def _group(name: str) -> str | None:
    index = label_index(name)
    group = group_of(index) if index is not None else None
    return group[0] if group else None


def subject_sentence(labels, persona: Persona) -> str:
    """What the photo shows, no more than the labels support."""
    if not labels:
        return ("What it shows is not named: no image classifier is installed "
                f"('{PULL_LABELS}').")
    top, p = labels[0]
    group = _group(top)
    same = [(n, q) for n, q in labels if group and _group(n) == group]
    total = sum(q for _, q in same)
    if group in ANIMATE_GROUPS and len(same) > 1 and total >= SURE:
        if persona.name == "novice":
            return (f"It looks like {_a(group)} (the classifier's best guesses are all kinds "
                    f"of {group})." if len(same) == len(labels) else
                    f"It looks like {_a(group)}.")
        return (f"It looks like {_a(group)} ({_labels_list(same)}: the classifier is surer "
                f"of the {group} than of which kind).")
    if p >= SURE:
        return f"It looks like {_a(top)} ({p:.0%})."
    if p >= LIKELY and len(labels) > 1:
        second, q = labels[1]
        return (f"The classifier is unsure what it shows: perhaps {_a(top)} ({p:.0%}) or "
                f"{_a(second)} ({q:.0%}).")
    return (f"The classifier cannot tell what it shows: its best guess, {_a(top)}, has only "
            f"{p:.0%}.")


def _scene_kinds(scene) -> list:
    if scene is None:
        return []
    return [k for k in getattr(scene, "kinds", ()) if getattr(k, "confidence", 0) >= 0.5]


LIGHT_PHRASES = {"night": "at night", "blue hour": "at blue hour", "golden hour":
                 "at golden hour", "daylight": "in daylight", "artificial":
                 "under artificial light", "backlit": "backlit", "low-key": "low-key",
                 "high-key": "high-key"}


def _kind_name(kind) -> str:
    return kind.name  # hyphenated, as an adjective: "a blue-hour photo"


def scene_sentence(scene) -> str | None:
    kinds = _scene_kinds(scene)
    if not kinds:
        return None
    kind = kinds[0]
    name = _kind_name(kind)
    text = f"It reads as {_a(name)} photo"
    light = getattr(scene, "light", None)
    if light and light.replace(" ", "-") not in name:
        text += " " + LIGHT_PHRASES.get(light, f"in {light} light")
    cues = [c.text.split(" (")[0] for c in getattr(kind, "cues", ())
            if getattr(c, "source", "") != "labels"][:2]
    sources = {getattr(c, "source", "") for c in getattr(kind, "cues", ())}
    if cues:
        text += f": {'; '.join(cues)}"
    elif sources == {"labels"}:
        text += ", going by the labels"
    return text + "."
REGION_WORDS = {"novice": "The part that catches the eye",
                "art-experienced": "The salient subject"}


def _placement(m, persona: Persona) -> str | None:
    centre = number(m, "subject.centre_distance")
    thirds = number(m, "subject.thirds_distance")
    fill = number(m, "subject.frame_fill_pct")
    point = word(m, "subject.nearest_thirds_point")
    if centre is None and thirds is None:
        return None
    if centre is not None and centre < 0.08:
        where = "sits near the centre"
    elif thirds is not None and thirds < 0.08:
        where = f"sits on the {point} thirds point" if point else "sits on a thirds point"
    else:
        where = f"sits off-centre, towards the {point}" if point else "sits off-centre"
    text = f"{REGION_WORDS.get(persona.name, 'The most eye-catching region')} {where}"
    if fill is not None:
        text += f" and fills {fill:.0f}% of the frame" if fill >= 1 else \
            " and is small in the frame (under 1%)"
    return text + "."


def key_word(ev: float | None) -> str | None:
    if ev is None:
        return None
    if ev <= -1.5:
        return "dark"
    if ev <= -0.5:
        return "on the dark side"
    if ev < 0.5:
        return "mid-toned"
    if ev < 1.5:
        return "bright"
    return "very bright"


def contrast_word(tonal_range: float | None) -> str | None:
    if tonal_range is None:
        return None
    if tonal_range < 0.4:
        return "flat"
    if tonal_range < 0.65:
        return "soft"
    if tonal_range < 0.85:
        return "moderate"
    return "strong"


def colour_word(m) -> str | None:
    colour = number(m, "color.colorfulness")
    if colour is None:
        return None
    if colour < 5:
        return "almost without colour"
    return word(m, "color.colorfulness_level") or ("muted" if colour < 33 else "colourful")


def _light(m, persona: Persona) -> str | None:
    ev = number(m, "exposure.ev_vs_middle_grey")
    key = key_word(ev)
    contrast = contrast_word(number(m, "contrast.tonal_range"))
    colour = colour_word(m)
    if key is None and contrast is None and colour is None:
        return None
    parts = []
    plain = persona.name == "novice"
    if key:
        if plain or ev is None:
            parts.append(f"the photo is {key}")
        elif abs(ev) < 0.05:
            parts.append(f"the photo is {key} (at middle grey)")
        else:
            parts.append(f"the photo is {key} ({ev:+.1f} EV from middle grey)")
    if contrast:
        parts.append(f"its contrast is {contrast}")
    if colour:
        colour_m = number(m, "color.colorfulness")
        parts.append("it has almost no colour" if colour.startswith("almost") else
                     f"it is {colour}" + ("" if plain or colour_m is None else
                                          f" ({colour_m:.0f} M)"))
    text = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    return text[0].upper() + text[1:] + "."


def _shot(exif) -> str | None:
    settings = exif_text(exif)
    year = str(getattr(exif, "taken_at", "") or "")[:4]
    if settings and year and settings.endswith(year):
        settings = settings[: -len(year)].rstrip(", ")
    if settings:
        return f"Shot at {settings}" + (f" ({year})." if year else ".")
    return f"EXIF dates it to {year}." if year else None


def describe(grounds: Grounds, persona: Persona) -> str:
    m = grounds.measurements
    sentences = [subject_sentence(grounds.labels, persona), scene_sentence(grounds.scene),
                 _placement(m, persona), _light(m, persona), _shot(grounds.exif)]
    return " ".join(s for s in sentences if s)


def mood(m) -> list[str]:
    """Mood words the measurements support, strongest first."""
    ev = number(m, "exposure.ev_vs_middle_grey")
    tonal_range = number(m, "contrast.tonal_range")
    colour = number(m, "color.colorfulness")
    words = []
    if ev is not None and ev <= -1.5:
        words.append("sombre")
    elif ev is not None and ev >= 1.0:
        words.append("airy")
    if tonal_range is not None and tonal_range < 0.65:
        words.append("gentle")
    elif tonal_range is not None and tonal_range >= 0.85:
        words.append("dramatic")
    if colour is not None and colour < 15:
        words.append("restrained")
    elif colour is not None and colour >= 60:
        words.append("lively")
    return words or ["even-handed"]


def _framing(m) -> str | None:
    centre = number(m, "subject.centre_distance")
    fill = number(m, "subject.frame_fill_pct")
    ratio = number(m, "sharpness.subject_background_ratio")
    clauses = []
    if fill is not None and fill >= 40:
        clauses.append("the subject fills the frame, which feels close and direct")
    elif fill is not None and fill < 4:
        clauses.append("the subject is small in its surroundings, which feels distant")
    if centre is not None and centre < 0.08:
        clauses.append("the centred subject makes it static and frontal")
    if ratio is not None and ratio >= 1.15:
        clauses.append("the subject is sharper than its background, so the eye goes to it")
    elif ratio is not None and ratio <= 0.87:
        clauses.append("the background is sharper than the subject, so the eye may wander")
    return "; ".join(clauses) or None


def impression(grounds: Grounds, persona: Persona) -> str:
    m = grounds.measurements
    moods = mood(m)
    feel = " and ".join(moods[:2])
    framing = _framing(m)
    kinds = _scene_kinds(grounds.scene)
    if persona.name == "novice":
        text = f"It feels {feel}."
    elif persona.name == "introvert":
        text = f"A {feel} frame, with nothing loud in its light or colour." \
            if "dramatic" not in moods and "lively" not in moods else \
            f"A {feel} frame; its light and colour are more insistent than quiet."
    elif persona.name == "extrovert":
        text = f"The energy comes from the light and colour: {feel}." \
            if {"dramatic", "lively"} & set(moods) else \
            f"There is little energy in the light and colour: {feel}."
    elif persona.name == "art-experienced":
        text = f"Tonally and chromatically the image is {feel}."
    else:
        text = f"The overall impression is {feel}."
    dark_kinds = {"night", "blue-hour", "astro", "low-key", "silhouette"}
    if kinds and kinds[0].name in dark_kinds and "sombre" in moods:
        text += f" The dark suits {_a(_kind_name(kinds[0]))} photo."
    elif kinds and kinds[0].name == "high-key" and "airy" in moods:
        text += " The brightness suits a high-key photo."
    if framing:
        text += f" In the framing, {framing}."
    return text + " (Read from the measured light, colour and framing, not from seeing the photo.)"


def evaluation_lead(grounds: Grounds, issues: list[tuple[str, str]]) -> str:
    """What works and what holds it back, in one or two sentences; the measured facts
    follow it, by topic."""
    m = grounds.measurements
    works = []
    if number(m, "exposure.highlights_clipped_pct") == 0:
        works.append("no highlight is blown")
    sigma = number(m, "noise.sigma")
    if sigma is not None and sigma < 4:
        works.append("noise is low")
    tilt = number(m, "horizon.tilt_deg")
    if tilt is not None and abs(tilt) < 0.7:
        works.append("the horizon is level")
    ratio = number(m, "sharpness.subject_background_ratio")
    if ratio is not None and ratio >= 1.15:
        works.append("the subject is sharper than the background")
    ev = number(m, "exposure.ev_vs_middle_grey")
    if ev is not None and abs(ev) < 0.5:
        works.append("the exposure sits near middle grey")
    text = ""
    if works:
        text = f"What works: {', '.join(works)}."
    if issues:
        topics: dict[str, str] = {}
        for topic, evidence in issues:
            topics.setdefault(topic, evidence[0].lower() + evidence[1:].rstrip("."))
        held = list(topics.values())[:2]
        text += (" " if text else "") + f"What holds it back: {'; '.join(held)}."
    return text


def emotion_text(grounds: Grounds) -> str:
    """No emotion is chosen without a model that reads one; the mood the measurements
    suggest is named as the rule of thumb it is."""
    moods = mood(grounds.measurements)
    lean = {"sombre": "sadness", "dramatic": "awe", "lively": "excitement",
            "airy": "contentment", "gentle": "contentment"}.get(moods[0], "something else")
    kinds = [k.name for k in _scene_kinds(grounds.scene)]
    basis = "light and colour alone"
    if kinds and kinds[0] in {"night", "blue-hour", "astro", "landscape"}:
        lean = "awe"  # a dark sky or a wide view: awe, not sadness
        basis = f"light, colour and the {kinds[0].replace('-', ' ')} scene"
    return (f"No model that reads emotion is installed, so none is chosen. The measured mood "
            f"({', '.join(moods)}) leans towards {lean}, as a rule of thumb from {basis}.")


def emotion_reason(grounds: Grounds) -> str:
    """A fact-based end for "It evokes this because"."""
    return f" its measured light and colour are {' and '.join(mood(grounds.measurements)[:2])}."
