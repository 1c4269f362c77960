"""`python -m train score|personal --backbone clip-vit-l14`: heads on frozen CLIP embeddings.

The backbone is a tiny CLIP (random weights, ViT-L/14's 768-d projection) installed as
the LAION aesthetic v2 model, with the real LAION head; the photos are real (blurred crops
of the test photos). Random features learn little, so these tests check the plumbing:
embeddings computed once and cached, the head trained and exported without the backbone,
the exported model scoring through find_scorers exactly as training saw the photo, the
LAION head as personal's starting point, and the errors when the backbone is missing.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from critique_app.core.scoring.pretrained.clip_head import (
    ARCHITECTURE,
    WEIGHTS,
    ClipHeadScorer,
)
from critique_app.core.store.store import LOCAL_METADATA, ModelStore
from tests.helpers.rating_tables import BLUR_RADII, blurred_crops
from tests.helpers.score_models import LAION, install_tiny_laion, save_tiny_laion
from train.cli import main as train_main
from train.progress import read_events
from train.tasks.embeddings import ClipEmbedder

pytestmark = [pytest.mark.slow,  # builds CLIP models and trains heads
              pytest.mark.filterwarnings("ignore::UserWarning")]
PULL = "critique models pull laion-aesthetic-v2"


@pytest.fixture(scope="module")
def crops(tmp_path_factory) -> Path:
    """72 rated photos: 2 crops of 6 real photos at 6 blur radii (score falls with blur)."""
    return blurred_crops(tmp_path_factory.mktemp("crops"), crops=2, bad_rows=False)


@pytest.fixture
def laion(tmp_path) -> ModelStore:
    return install_tiny_laion(tmp_path / "scratch")


@pytest.fixture
def forward_calls(monkeypatch) -> list[int]:
    """The batch size of every pass through the CLIP backbone."""
    calls: list[int] = []
    original = ClipEmbedder.__call__

    def counting(self, batch):
        calls.append(len(batch))
        return original(self, batch)

    monkeypatch.setattr(ClipEmbedder, "__call__", counting)
    return calls


def run(*argv) -> int:
    return train_main([str(a) for a in argv])


def clip_args(command: str, data: Path, out: Path, *extra) -> list:
    return [command, "--backbone", "clip-vit-l14", "--data", data, "--out", out,
            "--val-fraction", "0.25", "--profile", "cpu", "--progress", "none", *extra]


def events(run_dir: Path) -> list[dict]:
    return list(read_events((run_dir / "progress.jsonl").read_text().splitlines()))


def metadata(folder: Path) -> dict:
    return json.loads((folder / LOCAL_METADATA).read_text())


def stars_folder(crops: Path, folder: Path) -> Path:
    """The crops as a photographer's folder, rated in XMP sidecars: sharp 5 stars down to 1."""
    from critique_app.core.library.ratings import set_stars

    folder.mkdir()
    for photo in sorted(crops.parent.glob("*.jpg")):
        radius = float(photo.stem.rsplit("-", 1)[1])
        shutil.copy(photo, folder / photo.name)
        set_stars(folder / photo.name, 5 - BLUR_RADII.index(radius) * 4 // 5)
    return folder


def test_score_head_trains_once_embedded_and_scores_through_find_scorers(
        crops, laion, forward_calls, tmp_path):
    from critique_app.core.photo import load_photo
    from critique_app.core.scoring.scorer import find_scorers
    from train.tasks.embeddings import (
        EmbeddingCache,
        default_cache_dir,
        resolve_clip_backbone,
    )

    out = tmp_path / "run"
    assert run(*clip_args("score", crops, out, "--epochs", "3", "--name", "clip-nima")) == 0
    photos = len(list(crops.parent.glob("*.jpg")))
    assert sum(forward_calls) == photos and len(forward_calls) == math.ceil(photos / 8)
    starts = [e for e in events(out) if e["event"] == "start"]
    assert [s["task"] for s in starts] == ["embed (clip-vit-l14)", "score"]
    assert starts[0]["total_steps"] == len(forward_calls)

    model = out / "model"
    assert {p.name for p in model.iterdir()} == {LOCAL_METADATA, WEIGHTS, "metrics.json",
                                                 "README.md", "examples.json"}
    assert sum(p.stat().st_size for p in model.iterdir()) < 5_000_000  # no backbone in it
    meta = metadata(model)
    assert meta["architecture"] == ARCHITECTURE and meta["card"]["predicts"] == "distribution"
    assert meta["extra"]["backbone"] == "clip-vit-l14"
    assert meta["extra"]["backbone_model"] == LAION
    assert meta["extra"]["training"]["samples"] > 0
    metrics = json.loads((model / "metrics.json").read_text())["metrics"]
    assert metrics["ratings_used"] == photos - metrics["n"] and metrics["n"] >= 2
    assert math.isfinite(metrics["srcc"]) and metrics["srcc_low"] <= metrics["srcc_high"]

    # A rerun (another run folder, same photos) embeds nothing: the cache answers.
    again = tmp_path / "again"
    assert run(*clip_args("score", crops, again, "--epochs", "1")) == 0
    assert sum(forward_calls) == photos
    said = [e["message"] for e in events(again) if e["event"] == "log"]
    assert any(f"{photos} from the cache, 0 computed" in m for m in said)
    assert [e["task"] for e in events(again) if e["event"] == "start"] == ["score"]

    # Imported, it is the photo scorer, and it scores a photo as training embedded it.
    ModelStore().import_dir(model, report=lambda _: None)
    scorers = find_scorers()
    scorer = scorers.photo
    assert isinstance(scorer, ClipHeadScorer) and scorer.info.name == "clip-nima"
    assert scorer.output == "distribution" and scorer.title == "clip-nima"
    photo = sorted(crops.parent.glob("*.jpg"))[0]
    score = scorers.score_inputs({"photo": load_photo(photo).pixels})["photo"]
    assert score.has_distribution and score.model == "clip-nima"
    cache = EmbeddingCache(default_cache_dir())
    version = resolve_clip_backbone().version
    (embedding,) = cache.get([cache.content_key(photo)], version).values()
    cache.close()
    import torch

    with torch.no_grad():
        direct = scorer.net.head(torch.from_numpy(embedding[None])).numpy()[0]
    np.testing.assert_allclose(score.probabilities, direct, atol=1e-4)


def test_personal_fine_tunes_the_installed_laion_head(crops, laion, tmp_path):
    from critique_app.core.scoring.pretrained.laion import HEAD_FILE
    from critique_app.core.scoring.pretrained.weights import load_torch_weights
    from critique_app.core.scoring.scorer import find_scorers

    mine = stars_folder(crops, tmp_path / "mine")
    out = tmp_path / "personal"
    assert run(*clip_args("personal", mine, out, "--epochs", "4", "--name", "my-taste")) == 0
    model = out / "model"
    meta = metadata(model)
    assert meta["extra"]["head"] == "laion" and meta["extra"]["output"] == "mean"
    assert meta["card"]["predicts"] == "mean"
    record = json.loads((model / "metrics.json").read_text())
    assert set(record["baseline_metrics"]) >= {"srcc", "rmse"}  # LAION as installed
    assert record["metrics"]["ratings_used"] > 0
    assert "Started from: LAION aesthetic v2's head" in (model / "README.md").read_text()
    tuned = load_file(str(model / WEIGHTS))
    published = load_torch_weights(laion.path(LAION) / HEAD_FILE)
    assert set(tuned) == set(published)  # LAION's head, layers.{0,2,4,6,7}
    assert any(not np.allclose(tuned[k].numpy(), published[k].numpy()) for k in tuned)

    ModelStore().import_dir(model, report=lambda _: None)
    scorer = find_scorers().photo
    assert scorer.info.name == "my-taste" and scorer.output == "mean"
    score = scorer.score(np.zeros((1, 3, 224, 224), np.float32))[0]
    assert not score.has_distribution and score.std is None


def test_personal_without_laion_is_a_ridge_head_and_needs_laion_to_score(crops, tmp_path):
    from critique_app.core.scoring.scorer import find_scorers

    backbone = save_tiny_laion(tmp_path / "clip") / "backbone"  # not installed anywhere
    mine = stars_folder(crops, tmp_path / "mine")
    out = tmp_path / "personal"
    assert run(*clip_args("personal", mine, out, "--backbone-dir", backbone)) == 0
    meta = metadata(out / "model")
    assert meta["extra"]["head"] == "linear" and meta["extra"]["backbone_model"] == LAION
    assert set(load_file(str(out / "model" / WEIGHTS))) == {"linear.weight", "linear.bias"}
    assert "ridge" in (out / "model" / "README.md").read_text()

    # Imported without LAION installed: a clear state naming the pull, not a score.
    ModelStore().import_dir(out / "model", report=lambda _: None)
    scorers = find_scorers()
    assert scorers.photo is None
    assert f"needs {LAION}: {PULL}" in scorers.missing


def test_without_the_backbone_the_run_stops_in_one_line_naming_the_pull(crops, tmp_path,
                                                                       capsys):
    assert run(*clip_args("score", crops, tmp_path / "run")) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and PULL in error
    assert run(*clip_args("personal", crops, tmp_path / "mine")) == 2
    assert PULL in capsys.readouterr().err
