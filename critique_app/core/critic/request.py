"""What the user asks of a critique."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from critique_app.core.critic.generation import GenerationSettings
from critique_app.core.critic.personas import BUILTIN_PERSONAS, DEFAULT_PERSONA, Persona
from critique_app.core.critic.sections import SECTION_NAMES
from critique_app.core.util.errors import CritiqueError

TILINGS = ("auto", "one", "full")  # how a VLM sees the photo: see chat.image_options


@dataclass(frozen=True)
class CritiqueRequest:
    sections: tuple[str, ...] = SECTION_NAMES
    persona: Persona = BUILTIN_PERSONAS[DEFAULT_PERSONA]
    model: str | None = None  # a store name or a model folder; None: the best installed
    use_model: bool = True  # False: the rule engine only
    adapter: Path | None = None  # a LoRA adapter folder; None: the persona's, if installed
    device: str = "auto"
    tiling: str = "auto"  # a VLM's views of the photo: one on a CPU, tiles on a GPU (chat.py)
    vlm_score: bool = True  # also rate the photo with a VLM, when the model is one
    generation: GenerationSettings = field(default_factory=GenerationSettings)

    def __post_init__(self) -> None:
        if self.tiling not in TILINGS:
            raise CritiqueError(f"unknown tiling '{self.tiling}'; choose {', '.join(TILINGS)}")
