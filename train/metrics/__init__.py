"""Evaluation metrics for fine-tuning: score models (NIMA / AVA), critique text
(BLEU, METEOR, ROUGE-L, CIDEr-D) and a test of whether two personas write differently."""

from train.metrics.persona_test import (
    PersonaTestResult,
    compare_personas,
    paired_feature_test,
    vocabulary_test,
)
from train.metrics.scores import binary_accuracy, emd, plcc, score_metrics, srcc
from train.metrics.text import bleu, cider_d, meteor, rouge_l, text_metrics, tokenize

__all__ = [
    "PersonaTestResult",
    "binary_accuracy",
    "bleu",
    "cider_d",
    "compare_personas",
    "describe_metrics",
    "emd",
    "meteor",
    "paired_feature_test",
    "plcc",
    "rouge_l",
    "score_metrics",
    "srcc",
    "text_metrics",
    "tokenize",
    "vocabulary_test",
]


INTERVAL = ("srcc_low", "srcc_high")  # a bootstrap interval of the SRCC, where measured


def describe_metrics(metrics: dict) -> str:
    """"srcc 0.912, plcc 0.930, ...": the measured values, for a log line or a terminal
    (an SRCC interval, when there is one, beside the SRCC: "srcc 0.912 (95%: 0.88-0.94)")."""
    parts = []
    for key, value in metrics.items():
        if key in INTERVAL or not isinstance(value, float):
            continue
        parts.append(f"{key} {value:.3f}")
        low, high = metrics.get("srcc_low"), metrics.get("srcc_high")
        if key == "srcc" and isinstance(low, float) and isinstance(high, float):
            parts[-1] += f" (95%: {low:.2f} to {high:.2f})"
    return ", ".join(parts)
