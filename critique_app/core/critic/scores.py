"""What a critique may say about the score models' scores.

Every sentence names the model and its scale, and a mean-only score is cited as one
("LAION aesthetic v2 gives 5.8 on AVA's 1-10 scale (mean only)"): no spread is quoted
that the model never predicted.
"""

from __future__ import annotations

from collections.abc import Mapping

from critique_app.core.scoring.distribution import ScoreDistribution


def _what(modality: str) -> str:
    return "the photo" if modality == "photo" else f"its {modality} map alone"


def scores_text(scores: Mapping[str, ScoreDistribution]) -> str:
    """One "- the photo: <sentence>" line per score, for a language model's prompt."""
    return "\n".join(f"- {_what(modality)}: {score.sentence()}"
                     for modality, score in scores.items())


def score_sentences(scores: Mapping[str, ScoreDistribution]) -> list[str]:
    """The scores as sentences for the measured evaluation (the photo's score first)."""
    sentences = []
    for modality in sorted(scores, key=lambda m: m != "photo"):
        sentence = scores[modality].sentence()
        if modality != "photo":
            sentence = f"on its {modality} map alone, {sentence}"
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
    return sentences
