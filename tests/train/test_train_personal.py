"""`python -m train personal` without --base, and `train score`'s small-data recipe.

The photos are real (crops of the test photos at six blur radii) and rated by a learnable
rule: sharp 5 stars down to blurred 1 star, in XMP sidecars as a photographer's tool writes
them. Without --base (and without laion-aesthetic-v2 installed) a ridge regression learns
the stars from frozen EfficientNet-Lite0 features; the model it exports (Lite0 + a linear
head, one ONNX graph giving a mean) is imported and scores a folder it never saw.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from critique_app.core.scoring.backbone import LITE0_STORE_NAME
from critique_app.core.store.store import LOCAL_METADATA, ModelStore
from critique_app.core.util.errors import ModelError
from tests.helpers.rating_tables import BLUR_RADII, blurred_crops
from train.cli import main as train_main
from train.progress import read_events

PULL_LITE0 = f"critique models pull {LITE0_STORE_NAME}"
HELD_OUT_PHOTO = "china"  # its crops are never rated: the imported model scores them


def run(*argv) -> int:
    return train_main([str(a) for a in argv])


def events(run_dir: Path) -> list[dict]:
    return list(read_events((run_dir / "progress.jsonl").read_text().splitlines()))


def logs(run_dir: Path) -> list[str]:
    return [e["message"] for e in events(run_dir) if e["event"] == "log"]


def stars_for(photo: Path) -> int:
    radius = float(photo.stem.rsplit("-", 1)[1])
    return 5 - BLUR_RADII.index(radius) * 4 // 5


@pytest.fixture(scope="module")
def crops(tmp_path_factory) -> Path:
    """144 crops: 4 of each of the 6 test photos at 6 blur radii."""
    return blurred_crops(tmp_path_factory.mktemp("crops"), crops=4, bad_rows=False).parent


@pytest.fixture(scope="module")
def features(tmp_path_factory) -> Path:
    """One embedding cache for the module: each photo's features are computed once."""
    return tmp_path_factory.mktemp("embeddings")


def rated_folder(crops: Path, folder: Path, *, limit: int | None = None) -> Path:
    """The crops of every photo but HELD_OUT_PHOTO, rated with stars in XMP sidecars."""
    from critique_app.core.library.ratings import set_stars

    folder.mkdir()
    photos = [p for p in sorted(crops.glob("*.jpg")) if not p.name.startswith(HELD_OUT_PHOTO)]
    for photo in photos[:limit]:
        shutil.copy(photo, folder / photo.name)
        set_stars(folder / photo.name, stars_for(photo))
    return folder


@pytest.fixture
def lite0():
    ModelStore().pull(LITE0_STORE_NAME, report=lambda _: None, show_progress=False)


@pytest.mark.slow  # computes Lite0 features, exports and scores
def test_personal_without_base_learns_exports_imports_and_scores_a_held_out_folder(
        crops, features, lite0, tmp_path, capsys):
    from typer.testing import CliRunner

    from critique_app.cli.app import app
    from critique_app.core.scoring.scorer import Scorer, find_scorers

    mine = rated_folder(crops, tmp_path / "mine")
    out = tmp_path / "run"
    code = run("personal", "--data", mine, "--out", out, "--profile", "cpu",
               "--val-fraction", "0.25", "--embedding-cache", features, "--name", "my-taste",
               "--progress", "none")
    assert code == 0, capsys.readouterr().err
    said = capsys.readouterr().err
    assert "recipe: frozen" in said and "mean score" in said and "learned from" in said
    messages = logs(out)
    assert any("ridge strength" in m and "cross-validated" in m for m in messages)
    assert any(m.startswith("held-out (") and "95%:" in m for m in messages)

    model = out / "model"
    record = json.loads((model / "metrics.json").read_text())
    metrics = record["metrics"]
    assert metrics["srcc"] > 0.7, metrics  # sharp above blurred, on photos it never saw
    assert metrics["srcc_low"] <= metrics["srcc"] <= metrics["srcc_high"]
    assert metrics["ratings_used"] + metrics["n"] == len(list(mine.glob("*.jpg")))
    assert record["onnx_parity"]["max_abs_difference"] < 0.01
    assert record["onnx_parity"]["photos"] > 0
    meta = json.loads((model / LOCAL_METADATA).read_text())
    assert meta["extra"]["output"] == "mean" and meta["extra"]["backbone"] == \
        "tf_efficientnet_lite0"
    assert meta["extra"]["training"]["samples"] == metrics["ratings_used"]
    assert (model / "model.onnx").is_file()
    card = (model / "README.md").read_text()
    assert "frozen" in card and "ridge" in card

    runner = CliRunner()
    imported = runner.invoke(app, ["models", "import", str(model)])
    assert imported.exit_code == 0, imported.output
    found = find_scorers(runtime="onnx", device="cpu")
    assert isinstance(found.photo, Scorer) and found.photo.output == "mean"
    assert found.photo.info.name == "my-taste"

    unseen = tmp_path / "unseen"
    unseen.mkdir()
    for photo in crops.glob(f"{HELD_OUT_PHOTO}-*.jpg"):
        shutil.copy(photo, unseen / photo.name)
    results = tmp_path / "scores.csv"
    scored = runner.invoke(app, ["score", str(unseen), "--out", str(results)])
    assert scored.exit_code == 0, scored.output
    with results.open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["status"] == "ok"]
    assert len(rows) == len(list(unseen.glob("*.jpg")))
    assert all(r["score_std"] == "" and r["p1"] == "" for r in rows)  # mean only
    means = {Path(r["path"]).name: float(r["score_mean"]) for r in rows}
    sharp = [v for k, v in means.items() if k.endswith("-0.0.jpg")]
    blurred = [v for k, v in means.items() if k.endswith("-4.0.jpg")]
    assert np.mean(sharp) > np.mean(blurred) + 1.0, means


def test_fewer_than_20_usable_ratings_is_one_line_saying_how_many_more(crops, lite0, tmp_path,
                                                                       capsys):
    from critique_app.core.library.xmp import write_rating

    mine = rated_folder(crops, tmp_path / "mine", limit=12)
    for photo in sorted(crops.glob(f"{HELD_OUT_PHOTO}-*.jpg"))[:6]:
        shutil.copy(photo, mine / photo.name)  # unrated, or rated by Critique's scorer:
        write_rating(mine / photo.name, 4, basis="score-percentile")  # neither counts
    shutil.copy(next(crops.glob(f"{HELD_OUT_PHOTO}-*-4.0.jpg")), mine / "unrated.jpg")
    assert run("personal", "--data", mine, "--out", tmp_path / "run", "--profile", "cpu",
               "--progress", "none") == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: 12 usable ratings; at least 20 are needed: rate 8 more photos"


def test_without_lite0_the_error_is_the_pull_command(crops, tmp_path, capsys):
    mine = rated_folder(crops, tmp_path / "mine", limit=24)
    assert run("personal", "--data", mine, "--out", tmp_path / "run", "--profile", "cpu",
               "--progress", "none") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and PULL_LITE0 in err
    assert run("score", "--data", mine, "--out", tmp_path / "score", "--recipe", "frozen",
               "--profile", "cpu", "--progress", "none") == 2
    assert PULL_LITE0 in capsys.readouterr().err


@pytest.mark.slow  # computes Lite0 features
def test_score_auto_recipe_picks_frozen_on_small_data_and_says_so(crops, features, lite0,
                                                                 tmp_path, capsys):
    table = crops / "ratings.csv"
    out = tmp_path / "run"
    assert run("score", "--data", table, "--out", out, "--profile", "cpu",
               "--val-fraction", "0.25", "--embedding-cache", features,
               "--progress", "none") == 0
    said = capsys.readouterr().err
    assert "recipe: frozen (auto: 144 rated photos, fewer than 1,000" in said
    assert any(m.startswith("recipe: frozen (auto:") for m in logs(out))
    done = next(e for e in events(out) if e["event"] == "done")["result"]
    assert done["recipe"] == "frozen" and done["output"] == "mean"
    assert done["metrics"]["srcc"] > 0.7
    record = json.loads((out / "model" / "metrics.json").read_text())
    assert record["recipe"] == "frozen" and record["output"] == "mean"
    hyper = (out / "model" / "README.md").read_text()
    assert '"recipe": "frozen"' in hyper


def recipe_args(**given) -> argparse.Namespace:
    values = {"recipe": "auto", "backbone": "lite0", "init": None, "freeze": None, **given}
    return argparse.Namespace(**values)


def dataset_of(count: int):
    from train.data.records import Dataset, ScoreRow

    dataset = Dataset("score", "csv", Path("ratings.csv"))
    dataset.rows = [ScoreRow(Path(f"{i}.jpg"), (0.1,) * 10, i + 1) for i in range(count)]
    return dataset


def test_auto_recipe_rules():
    from critique_app.core.util.errors import CritiqueError
    from train.run_score import choose_recipe
    from train.tasks.frozen import FROZEN_BELOW

    small, large = dataset_of(300), dataset_of(FROZEN_BELOW)
    assert choose_recipe(recipe_args(), small)[0] == "frozen"
    assert choose_recipe(recipe_args(), large)[0] == "finetune"
    assert choose_recipe(recipe_args(freeze="backbone"), small) == \
        ("finetune", "auto: --freeze asks for fine-tuning")
    assert choose_recipe(recipe_args(init=Path("x")), small)[0] == "finetune"
    assert choose_recipe(recipe_args(backbone="resnet18"), small)[0] == "finetune"
    assert choose_recipe(recipe_args(recipe="finetune"), small)[0] == "finetune"
    assert choose_recipe(recipe_args(recipe="frozen"), large)[0] == "frozen"
    with pytest.raises(CritiqueError, match="--backbone lite0"):
        choose_recipe(recipe_args(recipe="frozen", backbone="resnet18"), small)


@pytest.mark.slow  # builds and exports a small network
def test_onnx_parity_is_checked_and_a_mismatch_refused(tmp_path):
    import torch

    from critique_app.core.scoring.backbone import create_backbone
    from critique_app.core.scoring.mean_net import MeanScoreNet
    from critique_app.core.scoring.onnx_runtime import export_onnx
    from train.tasks.frozen import check_onnx_parity

    torch.manual_seed(0)
    net = MeanScoreNet(create_backbone("test_efficientnet")).eval()
    path = export_onnx(net, tmp_path / "m.onnx", 64, output="mean")
    inputs = np.random.default_rng(0).normal(0, 1, (4, 3, 64, 64)).astype(np.float32)
    parity = check_onnx_parity(net, path, inputs)
    assert parity["photos"] == 4 and parity["max_abs_difference"] < 1e-3
    with torch.no_grad():
        net.head.bias += 1.0  # torch no longer matches the exported graph
    with pytest.raises(ModelError, match="differs from torch"):
        check_onnx_parity(net, path, inputs)


@pytest.mark.slow  # builds a tiny CLIP
def test_personal_without_base_uses_the_installed_clip_backbone(crops, tmp_path):
    from tests.helpers.score_models import install_tiny_laion

    install_tiny_laion(tmp_path / "scratch")
    mine = rated_folder(crops, tmp_path / "mine", limit=30)
    out = tmp_path / "run"
    assert run("personal", "--data", mine, "--out", out, "--profile", "cpu", "--epochs", "2",
               "--progress", "none") == 0
    meta = json.loads((out / "model" / LOCAL_METADATA).read_text())
    assert meta["extra"]["backbone"] == "clip-vit-l14" and meta["extra"]["output"] == "mean"
    few = rated_folder(crops, tmp_path / "few", limit=5)
    assert run("personal", "--data", few, "--out", tmp_path / "few-run", "--profile", "cpu",
               "--progress", "none") == 2


@pytest.mark.slow  # computes Lite0 features, exports a model
def test_training_features_are_what_the_exported_model_sees_at_scoring_time(crops, features,
                                                                            lite0, tmp_path):
    """The fast feature pass (draft decoding at CULLING_MAX_SIDE, the ONNX feature graph)
    gives, through the ridge head, what the exported model.onnx gives `critique score` for
    the same photo: the same input, bit for bit, and the same mean to 1e-4."""
    from safetensors.numpy import load_file

    from critique_app.core.folder_scoring.runner import CULLING_MAX_SIDE, _prepare
    from critique_app.core.scoring.onnx_runtime import OnnxScorer
    from tests.helpers.photos import PHOTOS
    from train.hardware import resolve_hardware
    from train.tasks.frozen import (
        Lite0Embedder,
        lite0_input,
        lite0_spec,
        resolve_lite0_backbone,
    )

    out = tmp_path / "run"
    assert run("score", "--data", crops / "ratings.csv", "--out", out, "--recipe", "frozen",
               "--profile", "cpu", "--embedding-cache", features, "--progress", "none") == 0
    weights = load_file(str(out / "model" / "model.safetensors"))
    w = weights["head.weight"].astype(np.float64).ravel()
    b = float(weights["head.bias"].ravel()[0])
    from PIL import Image

    large = tmp_path / "large.jpg"  # over CULLING_MAX_SIDE: a draft-decoded JPEG
    with Image.open(PHOTOS["china"]) as image:
        image.convert("RGB").resize((2400, 1600), Image.Resampling.BICUBIC).save(large,
                                                                                 quality=92)
    photos = [large, PHOTOS["astronaut"], sorted(crops.glob("*.jpg"))[0]]
    spec = lite0_spec()
    fast = np.stack([lite0_input(p, spec) for p in photos])
    scoring = np.stack([_prepare(0, p, "key", {"photo": spec}, False, CULLING_MAX_SIDE)
                        .inputs["photo"] for p in photos])
    np.testing.assert_array_equal(fast, scoring)
    embedder = Lite0Embedder(resolve_lite0_backbone(), resolve_hardware("cpu", "auto", None),
                             features)
    assert embedder.runtime == "onnx"
    from_features = embedder(fast).astype(np.float64) @ w + b
    exported = OnnxScorer(out / "model" / "model.onnx", device="cpu")(scoring)
    np.testing.assert_allclose(from_features, exported, atol=1e-4, rtol=0)
