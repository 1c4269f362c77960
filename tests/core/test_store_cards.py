"""Model cards and the photo-scorer recommendation, from the real manifest."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from critique_app.core.store.card import NOT_MEASURED, card_lines
from critique_app.core.store.manifest import load_manifest
from critique_app.core.store.recommend import Machine, recommend_scorer, scorer_seconds
from critique_app.core.store.store import ModelStatus

MANIFEST = load_manifest()
LAION, NIMA = MANIFEST["laion-aesthetic-v2"], MANIFEST["nima-ava"]
CPU2 = Machine("cpu", "CPU", None, 2)


def test_a_mean_only_scorers_card_says_so_with_accuracy_input_licences_and_caution():
    text = "\n".join(card_lines(LAION, None, None))
    assert text.startswith("LAION aesthetic v2 (laion-aesthetic-v2)")
    assert "Predicts: a mean score only (no distribution)" in text
    assert "Scale: 1-10 (AVA)" in text
    assert "SRCC 0.665" in text and "pyiqa" in text and "official test split" in text
    assert "Input: 224 px: shorter side" in text
    assert "head Apache-2.0" in text and "backbone MIT" in text
    assert "download about 1.7 GB" in text
    assert f"Speed on this machine: {NOT_MEASURED}" in text
    cpu = next(m for m in LAION.measured if m["device"] == "cpu")
    assert f"Benchmark: about {cpu['seconds_per_photo']:.2g} s a photo on 2 CPU cores" in text
    assert "Caution: CLIP's model card" in text and "Before pulling" not in text


def test_a_distribution_scorer_with_a_licence_to_accept():
    text = "\n".join(card_lines(NIMA, None, None))
    assert "Predicts: a distribution over the 10 score steps, and its mean" in text
    assert "SRCC 0.713" in text and "Input: 299 px" in text
    assert "Weights licence: CC BY-NC-SA 4.0 (non-commercial)" in text
    assert f"Before pulling, accept: {NIMA.licence_acceptance}" in text
    assert "download size not known" in text  # no size is published; none is guessed


def test_an_installed_models_card_gives_its_size_on_disk_and_measured_speed():
    status = ModelStatus(LAION, True, Path("/models/laion-aesthetic-v2"), 1_714_300_000)
    speed = "2.1 s a photo on CPU, 2 cores, measured 2026-12-07"
    lines = card_lines(LAION, status, speed)
    assert "Size on disk: 1.7 GB" in lines and f"Speed on this machine: {speed}" in lines
    damaged = dataclasses.replace(status, installed=False, damaged="damaged install record")
    assert any(line.startswith("Installed: damaged") for line in card_lines(LAION, damaged))


def test_a_model_without_a_card_still_gets_its_licence_and_source():
    lines = card_lines(MANIFEST["efficientnet-lite0-imagenet"])
    assert "Licence: Apache-2.0" in lines and "Task: backbone" in lines
    assert not any(line.startswith("Speed") for line in lines)


def test_laion_is_recommended_on_a_cpu_with_its_measured_speed():
    advice = recommend_scorer(list(MANIFEST.values()), CPU2)
    assert advice.entry.name == "laion-aesthetic-v2" and advice.how == "measured"
    measured = next(m for m in LAION.measured if m["device"] == "cpu")
    assert advice.seconds_per_photo == measured["seconds_per_photo"]
    assert advice.size_bytes == LAION.download_bytes > 1_700_000_000
    summary = advice.summary()
    assert "1.7 GB download" in summary and "SRCC 0.665" in summary
    assert "2 cores; benchmark figure for this kind of machine)" in summary
    assert "a folder of 500 photos takes about" in summary  # the wait, so it can be accepted


def test_other_core_counts_and_gpus_get_scaled_estimates():
    eight = recommend_scorer(list(MANIFEST.values()), Machine("cpu", "CPU", None, 8))
    assert eight.entry.name == "laion-aesthetic-v2" and eight.how == "estimated"
    assert abs(eight.seconds_per_photo - advice_seconds(CPU2) / 4) < 1e-9
    gpu = recommend_scorer(list(MANIFEST.values()), Machine("cuda", "RTX 2080 Ti", 11.0, 8))
    assert gpu.entry.name == "laion-aesthetic-v2" and gpu.how == "estimated"
    v100 = Machine("cuda", "Tesla V100-SXM2-16GB", 16.0, 8)
    assert scorer_seconds(LAION, v100)[1] == "measured"  # the same GPU model as the figure


def advice_seconds(machine: Machine) -> float:
    return scorer_seconds(LAION, machine)[0]


def test_a_model_needing_its_licence_accepted_is_never_recommended():
    """NIMA is more accurate on AVA (0.713) but non-commercial: opt-in only."""
    assert NIMA.card["srcc"] > LAION.card["srcc"]
    assert recommend_scorer([NIMA], CPU2) is None
    assert recommend_scorer([LAION, NIMA], CPU2).entry is LAION
    critics = [e for e in MANIFEST.values() if e.task != "score"]
    assert recommend_scorer(critics, CPU2) is None
