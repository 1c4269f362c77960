"""The parts of a critique, and the emotion vocabulary it uses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    needs_model: bool  # False: the rule engine alone can write it


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section("description", "Description", True),
        Section("impression", "Impression", True),
        Section("evaluation", "Aesthetic evaluation", False),
        Section("emotion", "Emotion", True),
        Section("suggestions", "Suggestions", False),
    )
}
SECTION_NAMES = tuple(SECTIONS)

# ArtEmis' nine categories, in its order.
EMOTIONS = ("amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear",
            "sadness", "something else")

# Where each category sits in valence / arousal / dominance, on 0-1 scales.
# Hand-placed from Russell's circumplex and Mehrabian's PAD model: approximate
# anchors, not lexicon values. A critique's VAD estimate is the mix of these,
# weighted by how likely the model finds each category.
VAD_ANCHORS: dict[str, tuple[float, float, float]] = {
    "amusement": (0.85, 0.60, 0.65),
    "awe": (0.80, 0.70, 0.35),
    "contentment": (0.85, 0.25, 0.65),
    "excitement": (0.85, 0.90, 0.65),
    "anger": (0.10, 0.85, 0.70),
    "disgust": (0.10, 0.60, 0.50),
    "fear": (0.10, 0.80, 0.20),
    "sadness": (0.10, 0.25, 0.25),
    "something else": (0.50, 0.50, 0.50),
}


def parse_sections(names: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Validated section names in the critique's order (all of them when none are given)."""
    from critique_app.core.util.errors import CritiqueError

    if not names:
        return SECTION_NAMES
    wanted = {n.strip().lower() for name in names for n in name.split(",") if n.strip()}
    unknown = sorted(wanted - set(SECTIONS))
    if unknown:
        raise CritiqueError(f"unknown section {', '.join(unknown)}; choose from "
                            f"{', '.join(SECTION_NAMES)}")
    return tuple(n for n in SECTION_NAMES if n in wanted)
