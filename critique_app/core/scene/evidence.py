"""Weighing cues for one kind: each cue adds its weight (noisy-or), counter-evidence scales.

confidence = (1 - Π(1 - weight)) × Π(factor): two cues of 0.45 and 0.3 give 0.62, a cue
never gives more than its own weight alone, and a counter-cue with factor 0.15 keeps a
kind below ACTS_ON however much spoke for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from critique_app.core.scene.kinds import SceneCue, SceneKind


@dataclass
class Evidence:
    name: str
    cues: list[tuple[float, SceneCue]] = field(default_factory=list)
    counters: list[tuple[float, SceneCue]] = field(default_factory=list)

    def add(self, weight: float, source: str, text: str) -> None:
        self.cues.append((weight, SceneCue(source, text)))

    def counter(self, factor: float, source: str, text: str) -> None:
        """Evidence against: scales the confidence by ``factor``."""
        self.counters.append((factor, SceneCue(source, text)))

    @property
    def support(self) -> float:
        """The confidence before any counter-evidence."""
        missing = 1.0
        for weight, _ in self.cues:
            missing *= 1.0 - weight
        return 1.0 - missing

    @property
    def confidence(self) -> float:
        value = self.support
        for factor, _ in self.counters:
            value *= factor
        return value

    def kind(self) -> SceneKind:
        ordered = sorted(self.cues, key=lambda c: -c[0])
        return SceneKind(self.name, round(self.confidence, 3), tuple(c for _, c in ordered))
