"""ONNX export of a score model and the onnxruntime scorer: parity with torch, providers, errors."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image

from critique_app.core.scoring.onnx_runtime import (
    CPU,
    CUDA,
    OnnxScorer,
    export_onnx,
    images_per_second,
)
from critique_app.core.util.errors import ModelError
from tests.helpers.photos import PHOTOS, load_rgb

SIZE = 64
MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)
GPU = torch.cuda.is_available()
pytestmark = pytest.mark.slow  # trains, exports and runs a score model


def _score_model() -> torch.nn.Module:
    """A tiny timm backbone + Linear(10) + softmax, trained a few steps off its init."""
    torch.manual_seed(0)
    backbone = timm.create_model("test_efficientnet", pretrained=False, num_classes=0)
    model = torch.nn.Sequential(backbone, torch.nn.Linear(backbone.num_features, 10),
                                torch.nn.Softmax(dim=-1))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(4):
        images = torch.randn(8, 3, SIZE, SIZE)
        target = torch.softmax(torch.randn(8, 10), dim=-1)
        loss = -(target * torch.log(model(images) + 1e-8)).sum(dim=-1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


def _photos(names: list[str]) -> np.ndarray:
    """Real photos, resized and normalised like a scorer's input."""
    images = [np.asarray(Image.fromarray(load_rgb(name)).resize((SIZE, SIZE), Image.BICUBIC))
              for name in names]
    batch = np.stack(images).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    return np.ascontiguousarray((batch - MEAN) / STD, dtype=np.float32)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return _score_model()


@pytest.fixture(scope="module")
def onnx_path(model, tmp_path_factory) -> Path:
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "score.onnx", SIZE)


def _torch_scores(model: torch.nn.Module, batch: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(batch)).numpy()


def test_export_writes_a_checked_file_and_leaves_no_temp(model, onnx_path):
    assert onnx_path.is_file()
    assert [p.name for p in onnx_path.parent.iterdir()] == ["score.onnx"]
    assert not model.training


def test_onnxruntime_matches_torch(model, onnx_path):
    scorer = OnnxScorer(onnx_path, device="cpu")
    names = sorted(PHOTOS)
    rng = np.random.default_rng(1)
    batches = [_photos(names[:3]), _photos(names[3:]), _photos(names),
               rng.normal(size=(4, 3, SIZE, SIZE)).astype(np.float32)]
    for batch in batches:
        expected = _torch_scores(model, batch)
        got = scorer(batch)
        assert got.dtype == np.float32 and got.shape == (len(batch), 10)
        np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
        assert np.abs(got - expected).max() < 1e-4
    # The trained model is not at its uniform-ish init: photos get different distributions.
    assert np.abs(expected[0] - expected[1]).max() > 1e-3


def test_dynamic_batch_on_one_session(model, onnx_path):
    scorer = OnnxScorer(onnx_path, device="cpu")
    batch = _photos(sorted(PHOTOS)[:5])
    five = scorer(batch)
    one = scorer(batch[:1])
    assert five.shape == (5, 10) and one.shape == (1, 10)
    assert np.abs(one[0] - five[0]).max() < 1e-5
    assert scorer(batch.astype(np.float64)).shape == (5, 10)


def test_cpu_provider_is_reported_and_logged(onnx_path, caplog):
    with caplog.at_level(logging.INFO, logger="critique.onnx"):
        scorer = OnnxScorer(onnx_path, device="cpu")
    assert scorer.provider == CPU
    assert any(CPU in record.getMessage() and record.name == "critique.onnx"
               for record in caplog.records)


@pytest.mark.skipif(GPU, reason="checks the choice made on a machine without a GPU")
def test_auto_without_gpu_uses_cpu_quietly(onnx_path, capfd):
    scorer = OnnxScorer(onnx_path, device="auto")
    assert scorer.provider == CPU
    captured = capfd.readouterr()
    assert "CUDA" not in captured.err and "cuda" not in captured.err


@pytest.mark.skipif(GPU, reason="checks the fall-back on a machine without a GPU")
def test_cuda_request_falls_back_to_cpu_with_warning(onnx_path, caplog):
    with caplog.at_level(logging.INFO, logger="critique.onnx"):
        scorer = OnnxScorer(onnx_path, device="cuda")
    assert scorer.provider == CPU
    assert any(record.levelno == logging.WARNING for record in caplog.records)
    assert scorer(_photos(["coffee"])).shape == (1, 10)


@pytest.mark.skipif(not GPU, reason="needs a CUDA GPU")
def test_auto_with_gpu_uses_cuda(model, onnx_path):
    scorer = OnnxScorer(onnx_path, device="auto")
    assert scorer.provider == CUDA
    batch = _photos(sorted(PHOTOS))
    # TF32 convolutions on the GPU: a looser bound than the CPU parity test.
    assert np.abs(scorer(batch) - _torch_scores(model, batch)).max() < 1e-3


def test_missing_and_corrupt_files_raise_model_error(tmp_path):
    with pytest.raises(ModelError, match="missing"):
        OnnxScorer(tmp_path / "absent.onnx", device="cpu")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not an onnx model" * 100)
    with pytest.raises(ModelError) as info:
        OnnxScorer(corrupt, device="cpu")
    assert "\n" not in str(info.value) and str(corrupt) in str(info.value)


def test_truncated_export_raises_model_error(onnx_path, tmp_path):
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(onnx_path.read_bytes()[: onnx_path.stat().st_size // 2])
    with pytest.raises(ModelError) as info:
        OnnxScorer(truncated, device="cpu")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("shape, dtype", [
    ((2, 3, 32, 32), np.float32),
    ((2, 1, SIZE, SIZE), np.float32),
    ((3, SIZE, SIZE), np.float32),
    ((0, 3, SIZE, SIZE), np.float32),
    ((2, 3, SIZE, SIZE), np.uint8),
])
def test_wrong_input_raises_model_error(onnx_path, shape, dtype):
    scorer = OnnxScorer(onnx_path, device="cpu")
    with pytest.raises(ModelError) as info:
        scorer(np.zeros(shape, dtype))
    assert "\n" not in str(info.value)


def test_export_failure_is_a_model_error_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "score.onnx"
    target.write_bytes(b"old")
    grey_only = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(),
                                    torch.nn.LazyLinear(10), torch.nn.Softmax(dim=-1))
    with pytest.raises(ModelError) as info:
        export_onnx(grey_only, target, SIZE)
    assert "\n" not in str(info.value)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["score.onnx"]


def test_images_per_second(onnx_path):
    scorer = OnnxScorer(onnx_path, device="cpu")
    assert images_per_second(scorer, _photos(["coffee", "rocket"]), repeats=2) > 0
