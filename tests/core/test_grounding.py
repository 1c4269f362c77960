"""Nothing invented (issue 19): the rule critique says only what is known, and every
sentence a language model writes is checked against the labels, measurements, EXIF
and scene. Unsupported sentences from a text-only model are removed and counted;
a vision model's contradictions are marked.

The language model here is a scripted stand-in: the text it "writes" is the input
under test (what the check must catch), never shown to a user as a model's output.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from critique_app.core.analysis.analyzer import analyze
from critique_app.core.critic import critics
from critique_app.core.critic import emotion as emotions
from critique_app.core.critic.critics import LanguageCritic, RuleCritic, facts_of, grounds_of
from critique_app.core.critic.events import collect_text
from critique_app.core.critic.grounding import (
    MARK_PREFIX,
    MAX_PENDING_CHARS,
    Grounds,
    SentenceGate,
    check_sentence,
    grounded_text,
    quoted_numbers,
    split_sentences,
    unsupported,
)
from critique_app.core.critic.loading import TEXT, VLM, LanguageModel
from critique_app.core.critic.personas import BUILTIN_PERSONAS
from critique_app.core.critic.prompts import SECTION_TASKS
from critique_app.core.critic.request import CritiqueRequest
from critique_app.core.critic.sections import EMOTIONS, SECTION_NAMES
from critique_app.core.critic.service import scene_of, stream_critique
from tests.helpers.photos import PHOTOS, REPO_ROOT, SKIMAGE_DATA

CAT_LABELS = [("Egyptian cat", 0.81), ("tiger cat", 0.08), ("tabby", 0.07)]
# The README screenshot's text, written by SmolLM2-135M from the label "Egyptian cat".
SCREENSHOT = (
    "This photograph captures a stunning example of creative storytelling through visual art - "
    "a majestic Egyptian cat that has been captured using advanced technology while "
    "maintaining its original aesthetic. It showcases the beauty of human creativity combined "
    "with technical skill, highlighting the intricate detail and craftsmanship involved in "
    "creating such iconic images. The owners took it on their trip to Egypt. ")

# Every packaged photo: the app's samples, and the photographs in scikit-image and
# scikit-learn (not their textures, scans or test charts).
PACKAGED = {
    **{f"samples/{p.name}": p for p in sorted((REPO_ROOT / "resources" / "samples").glob("*"))
       if p.suffix.lower() in (".jpg", ".jpeg", ".png")},
    **PHOTOS,
    "hubble": SKIMAGE_DATA / "hubble_deep_field.jpg",
    "motorcycle": SKIMAGE_DATA / "motorcycle_left.png",
    "moon": SKIMAGE_DATA / "moon.png",
    "clock_motion": SKIMAGE_DATA / "clock_motion.png",
    "flower": PHOTOS["china"].with_name("flower.jpg"),
}


# --- the scripted language model ---------------------------------------------------------


class _Prompts:
    def __init__(self, lm, pixels, *, tiling="auto"):
        pass

    def inputs(self, prompt):
        return {"prompt": prompt}


def scripted(monkeypatch, texts: dict[str, str], kind: str = TEXT) -> LanguageModel:
    """A language model whose every section is the given text, streamed in small chunks."""

    def generate(model, tokenizer, inputs, settings, *, cancel=None):
        prompt = inputs["prompt"]
        if prompt.endswith("because"):
            text = texts.get("emotion", "")
        else:
            text = next(texts.get(s, "") for s, task in SECTION_TASKS.items() if task in prompt)
        for start in range(0, len(text), 7):
            yield text[start:start + 7]

    def read_emotion(lm, inputs, *, cancel=None):
        probabilities = np.full(len(EMOTIONS), 0.02)
        probabilities[EMOTIONS.index("contentment")] = 1 - 0.02 * (len(EMOTIONS) - 1)
        return emotions.reading_from(probabilities)

    monkeypatch.setattr(critics, "PhotoPrompts", _Prompts)
    monkeypatch.setattr(critics, "render_prompt",
                        lambda lm, messages, answer_prefix="": messages[-1]["content"]
                        + answer_prefix)
    monkeypatch.setattr(critics, "stream_generate", generate)
    monkeypatch.setattr(emotions, "read_emotion", read_emotion)
    return LanguageModel("scripted", kind, None, None, "cpu", "float32")


def critique(critic, analysis, sections=SECTION_NAMES):
    request = CritiqueRequest(sections=tuple(sections), vlm_score=False)
    return list(critic.stream(analysis, request, threading.Event()))


def notices(events) -> list[str]:
    return [e.text for e in events if e.kind == "notice"]


@pytest.fixture(scope="module")
def tilted(tmp_path_factory) -> Path:
    """The rocket photo turned 4° clockwise and cropped: its verticals tilt ~4.1°."""
    image = Image.open(PHOTOS["rocket"]).convert("RGB")
    w, h = image.size
    turned = image.rotate(-4, resample=Image.BICUBIC).crop(
        (int(w * .1), int(h * .1), int(w * .9), int(h * .9)))
    path = tmp_path_factory.mktemp("tilted") / "rocket-tilted.png"
    turned.save(path)
    return path


# --- a text-only model: unsupported sentences are removed and counted --------------------


def test_the_readme_trip_to_egypt_is_removed_and_counted(monkeypatch, cat):
    lm = scripted(monkeypatch, {"description": SCREENSHOT})
    events = critique(LanguageCritic(lm, labels=CAT_LABELS), cat, ["description"])
    text = collect_text(events)["description"]
    assert "Egypt " not in text and "Egypt." not in text and "trip" not in text
    assert "technology" not in text and "human creativity" not in text
    assert "iconic" not in text
    removed = [e for e in events if e.kind == "notice" and "removed" in e.text]
    assert len(removed) == 1
    assert removed[0].text.startswith("Description: 3 sentences removed: not supported by "
                                      "what was measured")
    (egypt,) = [r for r in removed[0].data["removed"] if "Egypt." in r["sentence"]]
    assert {"kind": "unsupported", "what": "the place 'Egypt'"} in egypt["findings"]
    assert {"kind": "unsupported", "what": "the event 'trip'"} in egypt["findings"]
    assert len(removed[0].data["removed"]) == 3
    # nothing of the model's survived, so the fact-based description stands in its place
    assert text.startswith("It looks like a cat (Egyptian cat 81%")
    assert "the measured description stands in its place" in removed[0].text


def test_sentences_that_state_measured_facts_survive(monkeypatch, cat):
    said = ("The Egyptian cat sits near the centre of the frame. Exposure is 0.1 EV above "
            "middle grey, and no highlight is blown. The subject fills 6% of the frame, "
            "and noise is low (σ 1.5 levels). Its fur and whiskers are soft and warm. ")
    lm = scripted(monkeypatch, {"description": said, "evaluation": said})
    events = critique(LanguageCritic(lm, labels=CAT_LABELS), cat, ["description", "evaluation"])
    texts = collect_text(events)
    assert texts["description"] == said
    assert texts["evaluation"].startswith(said)
    assert "Measured:" in texts["evaluation"]
    assert not notices(events)


@pytest.mark.parametrize("sentence", [
    "The shallow depth of field is not what holds it back; on the other hand, the framing is.",
    "A tripod and a longer lens would not change the light.",
    "The tonal range is soft, which suits the cat's fur and whiskers.",
    "Cropping tighter on the eyes would give the subject more presence.",
    "The colours are harmonious, and the mid-toned exposure reads as natural.",
    "Lower the camera slightly and the composition gains depth.",
])
def test_a_faithful_critic_sentence_is_kept(cat, sentence):
    assert check_sentence(sentence, grounds_of(cat, CAT_LABELS)) == []


def test_faithful_sentences_pass_the_text_only_gate_and_musings_do_not(cat):
    faithful = ("The Egyptian cat sits near the centre of the frame. The soft contrast suits "
                "its fur. The exposure is balanced. ")
    musing = ("This highlights the importance of accurate data collection when creating models "
              "that rely heavily on photogrammetry techniques such as photometry. ")
    text, gate = grounded_text(faithful + musing, grounds_of(cat, CAT_LABELS), sees_photo=False)
    assert text == faithful
    assert [f.what for f in gate.removed[0].findings] == ["nothing about this photo"]


# What SmolLM2-135M wrote about chelsea.jpg (persona novice), told the labels above.
SMOLLM2 = {
    "description": "The photograph captures an Egyptian cat (Egyptian Cat), which has been "
                   "measured at 81%, with a maximum exposure time of 0 seconds while being "
                   "exposed for 0.01 minutes before measurement was stopped due to camera "
                   "malfunction. This highlights the importance of accurate data collection when "
                   "creating models that rely heavily on photogrammetry techniques such as "
                   "photometry. ",
    "impression": "The photograph captures an unforgettable moment from the past few years, "
                  "evoking emotions that linger long after the initial spark has faded. It "
                  "speaks of a particular era, one where tradition and heritage were intertwined "
                  "with beauty and elegance. This experience offers a unique perspective for "
                  "those seeking inspiration beyond their own lives. ",
    "evaluation": "This feline has been captured using a camera lens at a high resolution, "
                  "resulting in a detailed portrait of its body language. The results were "
                  "presented as a single color palette featuring a mix of shades of blue, green, "
                  "and gold, creating a visually appealing and captivating scene. ",
    "emotion": " it shows an animal that has been treated unfairly or abused. ",
}


def test_what_smollm2_wrote_about_the_cat_is_all_removed(monkeypatch, cat):
    lm = scripted(monkeypatch, SMOLLM2)
    events = critique(LanguageCritic(lm, labels=CAT_LABELS), cat,
                      ["description", "impression", "evaluation", "emotion"])
    texts = collect_text(events)
    for section, said in SMOLLM2.items():
        for sentence in split_sentences(said):
            assert sentence.strip() not in texts[section], (section, sentence)
    assert texts["description"].startswith("It looks like a cat")
    assert texts["impression"].startswith("The overall impression is")
    assert texts["evaluation"].lstrip().startswith("Measured:")
    assert "because its measured light and colour are" in texts["emotion"]
    assert sum("removed: not supported by what was measured" in n
               for n in notices(events)) == 4


def test_a_wrong_number_is_caught(monkeypatch, cat):
    said = ("Exposure is 2.5 EV below middle grey. The subject fills 6% of the frame. "
            "It was shot at f/1.8 and ISO 3200. The cat fills 40% of the frame. ")
    lm = scripted(monkeypatch, {"evaluation": said})
    events = critique(LanguageCritic(lm, labels=CAT_LABELS), cat, ["evaluation"])
    text = collect_text(events)["evaluation"].split("Measured:")[0]
    assert text.strip() == "The subject fills 6% of the frame."
    (notice,) = [e for e in events if e.kind == "notice"]
    assert notice.text.startswith("Aesthetic evaluation: 3 sentences removed")
    assert "the number '2.5 EV'" in notice.text


def test_places_people_events_and_other_objects_are_unsupported(cat):
    grounds = grounds_of(cat, CAT_LABELS)

    def said(sentence):
        return [f.what for f in unsupported(sentence, grounds)]

    assert said("A majestic Egyptian cat sits in a garden by a tree.") == \
        ["the object 'garden'", "the object 'tree'"]
    assert said("The Egyptian cat rests quietly.") == []
    assert said("A tabby (7%) rests calmly.") == []
    assert said("It reminds me of my holiday in Cairo.") == ["the event 'holiday'",
                                                              "the place 'Cairo'"]
    assert said("A woman holds the cat.") == ["people ('woman')"]
    assert said("The cat sleeps beside a teapot on the sofa.") == \
        ["the action 'sleeps'", "the object 'sofa'", "the object 'teapot'"]
    assert said("Shades of blue, green and gold fill it.") == \
        ["the colour 'blue'", "the colour 'green'", "the colour 'gold'"]
    assert said("It speaks of an era of tradition and heritage.") == \
        ["the story 'era'", "the story 'tradition'", "the story 'heritage'"]
    assert said("The median brightness is 0.47, near middle grey.") == []
    assert said('A magnificent Egyptian cat named "El-Sabbagh".') == ["the name 'El-Sabbagh'"]
    assert said("The long exposure time made true colour hard.") == \
        ["the setting 'exposure time' (not in the EXIF)",
         "the setting 'long exposure' (not in the EXIF)"]
    assert said("Taken at sunset by Mr Tiddles.") == ["the time 'sunset'", "the name 'Mr'",
                                                     "the name 'Tiddles'"]
    assert said("A dog and a cat.") == ["the object 'dog'"]


def test_numbers_are_read_with_their_units():
    quoted = {(q.unit, q.value) for q in quoted_numbers(
        "It tilts 4.1° at f/2.8, 1/250 s, ISO 3200, 50 mm: 0.13 EV and 62% in 2019.")}
    assert quoted == {("deg", 4.1), ("f", 2.8), ("shutter", 250), ("iso", 3200), ("mm", 50),
                      ("ev", 0.13), ("pct", 62), ("year", 2019)}
    assert split_sentences("One 0.13 EV. Two! Three") == ["One 0.13 EV. ", "Two! ", "Three"]


def test_the_emotion_explanation_is_checked_too(monkeypatch, cat):
    lm = scripted(monkeypatch, {"emotion": " it reminds the family of their holiday. "})
    events = critique(LanguageCritic(lm, labels=CAT_LABELS), cat, ["emotion"])
    text = collect_text(events)["emotion"]
    assert text.startswith("Contentment. It evokes this because its measured light and colour")
    assert "holiday" not in text
    assert any("1 sentence removed" in n for n in notices(events))


def test_an_emotion_explanation_that_goes_on_after_a_removed_start_still_reads(monkeypatch,
                                                                                   cat):
    lm = scripted(monkeypatch, {"emotion": " their trip to Egypt was happy. The soft light "
                                           "feels calm. "})
    events = critique(LanguageCritic(lm, labels=CAT_LABELS), cat, ["emotion"])
    text = collect_text(events)["emotion"]
    assert text == ("Contentment. It evokes this because its measured light and colour are "
                    "gentle. The soft light feels calm. ")


# --- a vision model: contradictions are marked, not silently kept ------------------------


def test_a_vlm_level_horizon_on_a_tilted_photo_is_marked(monkeypatch, tilted):
    analysis = analyze(tilted, depth=False)
    tilt = analysis.measurements["horizon.tilt_deg"]
    assert 3.5 < tilt < 4.5
    said = ("A rocket stands on its launch pad at dusk. The horizon is perfectly level. "
            "Lamps light the gantry. ")
    lm = scripted(monkeypatch, {"description": said}, kind=VLM)
    events = critique(LanguageCritic(lm), analysis, ["description"])
    text = collect_text(events)["description"]
    assert (f"The horizon is perfectly level. {MARK_PREFIX}the scene tilts {tilt:.1f}° "
            "clockwise (measured on the verticals)]") in text
    assert "A rocket stands on its launch pad at dusk." in text  # it sees the photo
    assert "Lamps light the gantry." in text
    marked = [e for e in events if e.kind == "notice" and "marked" in e.text]
    assert marked and marked[0].text == ("Description: 1 statement marked: they contradict the "
                                         "measurements")


@pytest.fixture(scope="module")
def degraded(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("degraded")
    chelsea = Image.open(PHOTOS["chelsea"]).convert("RGB")
    chelsea.filter(ImageFilter.GaussianBlur(6)).save(folder / "blurred.png")
    china = np.asarray(Image.open(PHOTOS["china"]).convert("RGB")).astype(float) / 255
    dark = np.clip(china ** 2.2 / 8, 0, 1) ** (1 / 2.2)  # 3 stops down in linear light
    Image.fromarray((dark * 255).astype(np.uint8)).save(folder / "dark.png")
    return {"blurred": folder / "blurred.png", "dark": folder / "dark.png",
            "grey": PHOTOS["camera"]}


@pytest.mark.parametrize(("photo", "sentence", "measured"), [
    ("blurred", "The cat is tack-sharp, every whisker in focus.", "the subject's sharpness is"),
    ("dark", "The scene is well exposed and bright.", "exposure is 1.8 EV below middle grey"),
    ("grey", "Vibrant colours fill the frame.", "colourfulness is 0.0 M"),
])
def test_vlm_claims_against_the_measurements_are_marked(degraded, photo, sentence, measured):
    analysis = analyze(degraded[photo], depth=False)
    grounds = grounds_of(analysis)
    text, gate = grounded_text(sentence, grounds, sees_photo=True)
    assert text.startswith(f"{sentence} {MARK_PREFIX}{measured}"), text
    assert len(gate.marked) == 1 and not gate.removed


def test_negated_and_agreeing_claims_are_not_marked(cat):
    grounds = grounds_of(cat)  # chelsea: mid-toned, moderately colourful, no horizon found
    for sentence in ("The photo is not underexposed.", "The colours are vivid.",
                     "The cat's face is in focus.", "The exposure is balanced."):
        assert [f for f in check_sentence(sentence, grounds) if f.kind == "contradicts"] == []


# --- the rule critique: nothing unsupported, on every packaged photo ---------------------


def _unsupported_in(events, grounds: Grounds) -> list[tuple[str, str, list[str]]]:
    found = []
    for section, text in collect_text(events).items():
        for sentence in split_sentences(text):
            findings = unsupported(sentence, grounds)
            if findings:
                found.append((section, sentence.strip(), [f.what for f in findings]))
    return found


def _rule_critique(path: Path, labels) -> tuple[list, Grounds]:
    analysis = analyze(path, depth=False)
    scene = scene_of(analysis, labels)
    critic = RuleCritic(labels=labels, scene=scene)
    events = critique(critic, analysis)
    return events, critic.grounds


@pytest.mark.parametrize("name", sorted(PACKAGED))
def test_no_rule_critique_of_a_packaged_photo_says_anything_unsupported(name):
    """Without a classifier: every section from the measurements, EXIF and scene."""
    events, grounds = _rule_critique(PACKAGED[name], [])
    assert [e.section for e in events if e.kind == "start"] == list(SECTION_NAMES)
    assert _unsupported_in(events, grounds) == []
    assert "no image classifier is installed" in collect_text(events)["description"]


@pytest.fixture(scope="module")
def label_store():
    from critique_app.core.store.store import ModelStore

    store = ModelStore()
    store.pull("efficientnet-lite0-imagenet", report=lambda _: None, show_progress=False)
    return store


@pytest.mark.slow
def test_no_labelled_rule_critique_of_a_packaged_photo_says_anything_unsupported(label_store):
    """With the classifier's labels, for every packaged photo and every persona."""
    from critique_app.core.scene.labels import imagenet_labels

    problems = []
    for name, path in sorted(PACKAGED.items()):
        analysis = analyze(path, depth=False)
        labels = imagenet_labels(analysis.photo.pixels, label_store)
        scene = scene_of(analysis, labels)
        for persona in BUILTIN_PERSONAS.values():
            request = CritiqueRequest(use_model=False, persona=persona)
            critic = RuleCritic(labels=labels, scene=scene)
            events = list(critic.stream(analysis, request))
            problems += [(name, persona.name, *p) for p in _unsupported_in(events,
                                                                           critic.grounds)]
            if persona.name == "critic":
                description = collect_text(events)["description"]
        top, p = labels[0]
        assert top in description and f"{p:.0%}" in description, description
    assert problems == []


def test_a_text_only_model_cannot_invent_on_any_packaged_photo(monkeypatch):
    """The screenshot's invented prose as every section, on every packaged photo: none
    of it survives, and each section says how many sentences went."""
    lm = scripted(monkeypatch, dict.fromkeys(("description", "impression", "evaluation"),
                                             SCREENSHOT))
    for path in PACKAGED.values():
        analysis = analyze(path, depth=False)
        events = critique(LanguageCritic(lm, labels=CAT_LABELS), analysis,
                          ["description", "impression", "evaluation"])
        texts = collect_text(events)
        for text in texts.values():
            assert "Egypt." not in text and "trip" not in text and "iconic" not in text
        assert sum("removed" in n for n in notices(events)) == 3


def test_the_service_tells_the_rule_critique_what_it_knows(cat):
    events = list(stream_critique(cat, CritiqueRequest(use_model=False)))
    said = " ".join(notices(events))
    assert "written from the measurements and EXIF; nothing else is assumed" in said
    assert "critique models pull efficientnet-lite0-imagenet" in said
    assert collect_text(events)["emotion"].startswith("No model that reads emotion")


def test_facts_of_every_photo_are_supported_by_themselves(cat):
    grounds = grounds_of(cat)
    for fact in facts_of(cat):
        assert unsupported(fact.sentence, grounds) == [], fact.sentence


def test_a_vlm_sunny_day_at_blue_hour_is_marked():
    analysis = analyze(PHOTOS["rocket"], depth=False)
    scene = scene_of(analysis, [])
    assert scene.light == "blue hour"
    grounds = grounds_of(analysis, (), scene)
    text, _gate = grounded_text("A rocket waits on the pad on a sunny afternoon. Lamps glow. ",
                                grounds, sees_photo=True)
    assert text.startswith("A rocket waits on the pad on a sunny afternoon. "
                           f"{MARK_PREFIX}the light reads as blue hour")
    assert text.endswith("] Lamps glow. ")


def test_a_run_on_sentence_is_checked_in_pieces_as_it_streams(cat):
    gate = SentenceGate(grounds_of(cat, CAT_LABELS), sees_photo=False)
    words = "the soft light falls across the fur and " * 12
    out = [text for start in range(0, len(words), 9) for text in gate.feed(words[start:start + 9])]
    assert out and len(out[0]) <= MAX_PENDING_CHARS
    assert "".join(out) + "".join(gate.close()) == words
