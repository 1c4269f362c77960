"""`python -m train score|modality|personal|ssl|export|eval` on CPU with tiny data.

The learnable target: quality falls with blur. Crops of real photos are blurred
by known amounts and rated accordingly; a scorer that learned the task must
rank held-out crops in the same order (SRCC > 0.8).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from critique_app.core.scoring.backbone import LITE0_STORE_NAME
from critique_app.core.store.store import ModelStore
from tests.helpers.photos import PHOTOS
from tests.helpers.score_models import TINY_BACKBONE
from train.cli import main as train_main
from train.progress import read_events

SIGMAS = (0.0, 0.7, 1.4, 2.2, 3.0, 4.0)
pytestmark = [pytest.mark.slow,  # trains score models
              pytest.mark.filterwarnings("ignore::UserWarning")]


def blur_quality_set(folder: Path, crops_per_photo: int = 2, size: int = 192) -> Path:
    """CSV of blurred crops: score 9.5 for a sharp crop down to 2 for the blurriest."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for name, path in PHOTOS.items():
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        for crop in range(crops_per_photo):
            top = int(rng.integers(0, pixels.shape[0] - size))
            left = int(rng.integers(0, pixels.shape[1] - size))
            window = pixels[top:top + size, left:left + size]
            for sigma in SIGMAS:
                blurred = cv2.GaussianBlur(window, (0, 0), sigma) if sigma else window
                file = folder / f"{name}-{crop}-{sigma:.1f}.jpg"
                Image.fromarray(blurred).save(file, quality=95)
                rows.append({"image": file.name, "score": f"{9.5 - 7.5 * sigma / 4.0:.3f}"})
    table = folder / "ratings.csv"
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "score"])
        writer.writeheader()
        writer.writerows(rows)
    return table


@pytest.fixture(scope="module")
def blur_set(tmp_path_factory) -> Path:
    return blur_quality_set(tmp_path_factory.mktemp("blur-set"))


@pytest.fixture
def lite0():
    ModelStore().pull(LITE0_STORE_NAME, report=lambda _: None, show_progress=False)


def run(*argv) -> int:
    return train_main([str(a) for a in argv])


def events(run_dir: Path) -> list[dict]:
    return list(read_events((run_dir / "progress.jsonl").read_text().splitlines()))


def test_a_scorer_learns_blur_quality_and_the_app_scores_with_it(blur_set, lite0, tmp_path,
                                                               capsys):
    out = tmp_path / "run"
    code = run("score", "--data", blur_set, "--out", out, "--backbone", "lite0",
               "--freeze", "backbone", "--input-size", "160", "--epochs", "6",
               "--batch-size", "8", "--lr", "3e-3", "--val-fraction", "0.3",
               "--profile", "cpu", "--progress", "json", "--name", "blur-judge")
    assert code == 0, capsys.readouterr().err
    log = events(out)
    losses = [e["loss"] for e in log if e["event"] == "step"]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    metrics = json.loads((out / "model" / "metrics.json").read_text())["metrics"]
    assert metrics["srcc"] > 0.8, metrics
    assert {"plcc", "emd", "accuracy"} <= set(metrics)
    assert (out / "model" / "model.onnx").is_file()
    examples = json.loads((out / "model" / "examples.json").read_text())
    assert len(examples) == 8 and {"image", "rated", "predicted"} <= set(examples[0])
    card = (out / "model" / "README.md").read_text()
    assert "ratings.csv" in card and "srcc" in card

    # The app imports and scores with it: sharper photos score higher.
    from typer.testing import CliRunner

    from critique_app.cli.app import app

    runner = CliRunner()
    imported = runner.invoke(app, ["models", "import", str(out / "model")])
    assert imported.exit_code == 0, imported.output
    results = tmp_path / "scores.csv"
    scored = runner.invoke(app, ["score", str(blur_set.parent), "--out", str(results)])
    assert scored.exit_code == 0, scored.output
    with results.open() as handle:
        means = {Path(r["path"]).name: float(r["score_mean"]) for r in csv.DictReader(handle)
                 if r["status"] == "ok"}
    sharp = [v for k, v in means.items() if k.endswith("-0.0.jpg")]
    blurry = [v for k, v in means.items() if k.endswith("-4.0.jpg")]
    assert np.mean(sharp) > np.mean(blurry) + 2.0


def tiny_score_args(data: Path, out: Path, *extra) -> list:
    return ["score", "--data", data, "--out", out, "--backbone", TINY_BACKBONE,
            "--freeze", "none", "--input-size", "64", "--epochs", "2", "--batch-size", "6",
            "--val-fraction", "0.25", "--profile", "cpu", "--progress", "none", *extra]


def test_resume_after_a_stop_equals_an_uninterrupted_run(blur_set, tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert run(*tiny_score_args(blur_set, whole)) == 0
    assert run(*tiny_score_args(blur_set, parts, "--max-steps", "5")) == 0
    assert not (parts / "model").exists()  # stopped: a checkpoint, no model yet
    assert run("score", "--out", parts, "--resume", "--progress", "none") == 0
    a = load_file(str(whole / "model" / "model.safetensors"))
    b = load_file(str(parts / "model" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resume_refuses_other_settings_and_missing_runs(blur_set, tmp_path, capsys):
    out = tmp_path / "run"
    assert run("score", "--out", out, "--resume") == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert run(*tiny_score_args(blur_set, out, "--max-steps", "2")) == 0
    (out / "run.json").write_text(json.dumps({"command": "ssl", "argv": [], "cwd": "."}))
    assert run("score", "--out", out, "--resume") == 2
    assert "is a 'ssl' run" in capsys.readouterr().err


def test_a_bad_dataset_is_reported_line_by_line_and_the_run_goes_on(blur_set, tmp_path):
    rows = [[str(blur_set.parent / r["image"]), r["score"]]
            for r in csv.DictReader(blur_set.open())]
    rows[2] = [str(blur_set.parent / "missing.jpg"), "7"]  # file line 4
    rows[4][1] = "eleven"  # file line 6
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    rows.append([str(broken), "5"])
    data = tmp_path / "ratings.csv"
    with data.open("w", newline="") as handle:
        csv.writer(handle).writerows([["image", "score"], *rows])
    out = tmp_path / "run"
    assert run(*tiny_score_args(data, out, "--epochs", "1")) == 0
    log = events(out)
    validation = next(e for e in log if e["event"] == "validation")
    assert {e["line"] for e in validation["errors"]} == {4, 6}
    assert any("broken.jpg" in e.get("message", "") for e in log if e["event"] == "log")
    assert (out / "model" / "critique_model.json").is_file()


def test_modality_scorer_trains_on_blur_maps(blur_set, tmp_path):
    out = tmp_path / "run"
    args = tiny_score_args(blur_set, out, "--epochs", "1")
    args[0] = "modality"
    assert run(*args, "--modality", "blur") == 0
    metadata = json.loads((out / "model" / "critique_model.json").read_text())
    assert metadata["extra"]["modality"] == "blur"
    assert list((out / "cache" / "blur").rglob("*.u8"))  # the maps were made once, cached


def test_ssl_learns_to_rank_originals_above_degraded_copies(tmp_path):
    photos = tmp_path / "library"
    photos.mkdir()
    for name, path in PHOTOS.items():
        with Image.open(path) as image:
            image.convert("RGB").resize((128, 96)).save(photos / f"{name}.jpg")
            image.convert("RGB").resize((128, 96)).transpose(0).save(photos / f"{name}-m.jpg")
    out = tmp_path / "ssl"
    assert run("ssl", "--data", photos, "--out", out, "--backbone", TINY_BACKBONE,
               "--freeze", "none", "--input-size", "64", "--epochs", "4", "--batch-size", "4",
               "--lr", "2e-3", "--val-fraction", "0.2", "--profile", "cpu",
               "--progress", "none") == 0
    log = events(out)
    losses = [e["loss"] for e in log if e["event"] == "step"]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    metadata = json.loads((out / "model" / "critique_model.json").read_text())
    assert metadata["task"] == "backbone"
    # A score model can start from it.
    data = blur_quality_set(tmp_path / "blur", crops_per_photo=1, size=96)
    scored = tmp_path / "from-ssl"
    assert run("score", "--data", data, "--out", scored, "--init", out / "model",
               "--freeze", "backbone", "--epochs", "1", "--batch-size", "8",
               "--profile", "cpu", "--progress", "none") == 0
    card = (scored / "model" / "README.md").read_text()
    assert "self-supervised backbone" in card


def test_personal_model_learns_from_xmp_ratings_on_top_of_a_scorer(blur_set, tmp_path):
    from critique_app.core.library.ratings import set_stars

    base = tmp_path / "base"
    assert run(*tiny_score_args(blur_set, base)) == 0
    # This photographer likes blur: their stars run opposite to the base scorer's target.
    mine = tmp_path / "mine"
    mine.mkdir()
    for row in csv.DictReader(blur_set.open()):
        sigma = float(row["image"].rsplit("-", 1)[1][:-4])
        target = mine / row["image"]
        target.write_bytes((blur_set.parent / row["image"]).read_bytes())
        set_stars(target, 1 + round(sigma))
    out = tmp_path / "personal"
    assert run("personal", "--data", mine, "--base", base / "model", "--out", out,
               "--freeze", "none", "--epochs", "4", "--batch-size", "8", "--lr", "3e-3",
               "--val-fraction", "0.3", "--profile", "cpu", "--progress", "none") == 0
    metrics = json.loads((out / "model" / "metrics.json").read_text())
    assert metrics["metrics"]["srcc"] > metrics["baseline_metrics"]["srcc"]


def test_validate_and_eval_commands(blur_set, tmp_path, capsys):
    assert run("validate", "--data", blur_set) == 0
    report = capsys.readouterr().out
    assert "rows" in report and str(len(SIGMAS) * 2 * len(PHOTOS)) in report
    out = tmp_path / "run"
    assert run(*tiny_score_args(blur_set, out, "--epochs", "1")) == 0
    assert run("eval", out / "model", "--data", blur_set, "--val-fraction", "0.25",
               "--json") == 0
    printed = json.loads(capsys.readouterr().out)
    stored = json.loads((out / "model" / "metrics.json").read_text())["metrics"]
    assert printed["srcc"] == pytest.approx(stored["srcc"], abs=1e-4)


def test_export_a_stopped_run_from_its_checkpoint(blur_set, tmp_path):
    out = tmp_path / "run"
    assert run(*tiny_score_args(blur_set, out, "--max-steps", "3")) == 0
    target = tmp_path / "exported"
    assert run("export", out, "--to", target) == 0
    assert (target / "model.onnx").is_file()
    assert "did not finish" in (target / "README.md").read_text()
    ModelStore().import_dir(target, report=lambda _: None)


def test_a_capped_gpu_gets_smaller_micro_batches_with_more_accumulation(blur_set):
    """The 2080 Ti profile fits the batch to its 11 GB by accumulating; shown here
    with a cap small enough that even a tiny model has to shrink its batches."""
    from train.data.formats import load_dataset
    from train.hardware import Hardware
    from train.loop import LoopSettings
    from train.progress import Progress
    from train.run_score import fit_to_memory
    from train.tasks.images import InputCache
    from train.tasks.score import ScoreOptions, ScoreTask
    from train.tasks.score_model import build_score_net

    rows = load_dataset(blur_set).rows
    built = build_score_net(TINY_BACKBONE, input_size=64)
    task = ScoreTask(built, rows[:8], rows[8:10], ScoreOptions(), InputCache(None), seed=0,
                     data_fingerprint="x")
    capped = Hardware("2080ti", "cuda", torch.float16, True, True,
                      memory_limit_bytes=775 * 1024**2)  # the 768 MiB workspace + a little
    settings, memory = fit_to_memory(task, LoopSettings(batch_size=64, accumulate=1), capped,
                                     Progress())
    assert settings.batch_size < 64
    assert settings.batch_size * settings.accumulate == 64
    assert memory.fits(capped.memory_limit_bytes)


@pytest.mark.slow
def test_torchrun_with_two_processes_trains_without_code_changes(blur_set, tmp_path):
    """Multi-GPU users launch the same command with torchrun; here two CPU processes
    (gloo) share each epoch's batches and only the first one writes."""
    import subprocess
    import sys

    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_port", "29517", "-m", "train",
               *[str(a) for a in tiny_score_args(blur_set, out, "--epochs", "1")]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    log = events(out)
    assert [e["event"] for e in log].count("start") == 1
    start = next(e for e in log if e["event"] == "start")
    assert start["config"]["world_size"] == 2
    steps = [e for e in log if e["event"] == "step"]
    assert len(steps) == 4  # 54 photos / 6 per batch = 9 batches, 4 per process
    assert (out / "model" / "model.safetensors").is_file()


def test_the_input_cache_returns_what_it_stored(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from train.tasks.images import InputCache

    photo = PHOTOS["coffee"]
    fresh = {m: InputCache(None).square(photo, m, 64) for m in ("photo", "blur")}
    cache = InputCache(tmp_path / "cache")
    for modality, expected in fresh.items():
        cache.square(photo, modality, 64)  # made and stored
        with ThreadPoolExecutor(4) as pool:  # read back, from several threads at once
            again = list(pool.map(cache.square, [photo] * 8, [modality] * 8, [64] * 8))
        assert all(np.array_equal(a, expected) for a in again)
        assert again[0].shape == (3, 64, 64)
