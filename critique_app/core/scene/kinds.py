"""The scene as data: the kinds of photo it may be, each with its evidence in words."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("night", "blue-hour", "low-key", "high-key", "backlit", "silhouette", "astro",
         "landscape", "architecture", "portrait", "macro", "still-life", "street",
         "intentional-motion")
LIGHTS = ("daylight", "night", "blue hour", "golden hour", "low-key", "high-key", "backlit",
          "flash")
ACTS_ON = 0.5  # a kind this confident is one the critique acts on
SOURCES = ("labels", "measurements", "exif")
NO_LABELS = ("no ImageNet labels: the classifier is not installed "
             "('critique models pull efficientnet-lite0-imagenet'); the scene was read from "
             "the measurements and EXIF alone")


@dataclass(frozen=True)
class SceneCue:
    """One piece of evidence, in words, and where it came from."""

    source: str  # one of SOURCES
    text: str  # "ImageNet: 'volcano' 41%", "14 point light sources in a dark frame", ...

    def as_dict(self) -> dict:
        return {"source": self.source, "text": self.text}


@dataclass(frozen=True)
class SceneKind:
    name: str  # one of KINDS
    confidence: float  # 0-1, loosely calibrated: >= ACTS_ON means the critique acts on it
    cues: tuple[SceneCue, ...]

    def as_dict(self) -> dict:
        return {"name": self.name, "confidence": round(self.confidence, 2),
                "cues": [cue.as_dict() for cue in self.cues]}

    def line(self) -> str:
        """'Blue hour (0.82): sky band deep blue ...; 12 point light sources ...'"""
        title = self.name.replace("-", " ").capitalize()
        return f"{title} ({self.confidence:.2f}): " + "; ".join(c.text for c in self.cues)


@dataclass(frozen=True)
class Scene:
    """What kind of photo it is and the light it was taken in, with the evidence.

    ``kinds`` are the plausible kinds, most confident first (empty: no clear scene);
    ``against`` is evidence that ruled a kind out ("not night: ..."), which advice may
    cite; ``labels`` are the ImageNet labels read (None when the classifier is not
    installed, and ``note`` then says so)."""

    kinds: tuple[SceneKind, ...]
    light: str | None  # one of LIGHTS, or None when the light is not clear
    light_cues: tuple[SceneCue, ...] = ()
    against: tuple[SceneCue, ...] = ()
    labels: tuple[tuple[str, float], ...] | None = None
    note: str | None = None

    def has(self, name: str, at_least: float = ACTS_ON) -> bool:
        if name not in KINDS:
            raise ValueError(f"unknown scene kind {name!r}; one of {', '.join(KINDS)}")
        return any(k.name == name and k.confidence >= at_least for k in self.kinds)

    def kind(self, name: str) -> SceneKind | None:
        return next((k for k in self.kinds if k.name == name), None)

    def confident(self, at_least: float = ACTS_ON) -> tuple[SceneKind, ...]:
        return tuple(k for k in self.kinds if k.confidence >= at_least)

    def summary(self) -> str:
        """One line: 'blue-hour 0.82, landscape 0.55; light: blue hour', 'no clear scene'."""
        kinds = ", ".join(f"{k.name} {k.confidence:.2f}" for k in self.confident())
        light = f"; light: {self.light}" if self.light else ""
        return (kinds or "no clear scene") + light

    def as_dict(self) -> dict:
        return {
            "kinds": [k.as_dict() for k in self.kinds],
            "light": self.light,
            "light_cues": [c.as_dict() for c in self.light_cues],
            "against": [c.as_dict() for c in self.against],
            "labels": None if self.labels is None else
            [{"name": n, "probability": round(p, 3)} for n, p in self.labels],
            "note": self.note,
        }

    def lines(self) -> list[str]:
        """For the Measurements tab and the terminal report: the light, each kind the
        critique acts on with its cues, then weaker readings and what ruled kinds out."""
        lines = []
        if self.light:
            cues = "; ".join(c.text for c in self.light_cues)
            lines.append(f"Light: {self.light}" + (f" ({cues})" if cues else ""))
        lines += [k.line() for k in self.confident()]
        weaker = [k for k in self.kinds if k.confidence < ACTS_ON]
        if weaker:
            lines.append("Less sure: " + ", ".join(f"{k.name} {k.confidence:.2f}"
                                                   for k in weaker))
        lines += [c.text[0].upper() + c.text[1:] for c in self.against]
        if not self.confident():
            lines.insert(0, "No clear scene")
        if self.labels:
            lines.append("ImageNet labels: " + ", ".join(f"'{name}' {p:.0%}"
                                                          for name, p in self.labels))
        if self.note:
            lines.append(self.note[0].upper() + self.note[1:])
        return lines
