"""ONNX export of score models and an onnxruntime scorer that can stand in for torch.

A score model maps a normalised float32 batch ``(B, 3, S, S)`` to a ``(B, 10)``
distribution over the scores 1..10, or (a mean-only model) to ``(B,)`` mean scores.
:func:`export_onnx` writes it as ONNX with input ``"image"``, output ``"distribution"``
(or ``"mean"``) and a dynamic batch axis; :class:`OnnxScorer` runs such a file, on CUDA
when that really works and on the CPU otherwise. Exported with ``embedding=True`` the graph
has a second output, ``"embedding"`` (B, D): the pooled backbone features the head read,
from the same pass (culling compares photos by them). :data:`EXPORT_VERSION` names what an
export holds: cached exports are keyed by it, so older ones are made again.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import onnxruntime as ort

from critique_app.core.util.errors import ModelError
from critique_app.core.util.files import atomic_path

if TYPE_CHECKING:
    import torch

log = logging.getLogger("critique.onnx")

INPUT_NAME = "image"
OUTPUT_NAME = "distribution"
MEAN_OUTPUT_NAME = "mean"  # a mean-only model's one output, (B,)
EMBEDDING_NAME = "embedding"  # the pooled features before the head, (B, D)
EXPORT_VERSION = "x2"  # x2: the score and the "embedding" output (x1, unnamed: score only)
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def export_onnx(model: torch.nn.Module, path: Path, input_size: int, *, opset: int = 17,
                output: str = OUTPUT_NAME, embedding: bool = False) -> Path:
    """Export ``model`` (in eval mode) to ``path`` atomically and check the result.
    ``output``: "distribution" (B, 10) or "mean" (B,). ``embedding``: add the output
    "embedding" from ``model.forward_and_embed`` (models without one export without it)."""
    import onnx
    import torch

    names = [output]
    if embedding and hasattr(model, "forward_and_embed"):
        model, names = _with_embedding(model), [output, EMBEDDING_NAME]
    path = Path(path)
    params = next(model.parameters(), None)
    device = params.device if params is not None else torch.device("cpu")
    dummy = torch.zeros(2, 3, input_size, input_size, device=device)
    was_training = model.training
    model.eval()
    try:
        with atomic_path(path) as temporary, torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                model, (dummy,), str(temporary), dynamo=False, opset_version=opset,
                input_names=[INPUT_NAME], output_names=names,
                dynamic_axes={INPUT_NAME: {0: "batch"}, **{n: {0: "batch"} for n in names}},
                do_constant_folding=True,
            )
            onnx.checker.check_model(str(temporary))
    except Exception as exc:
        raise ModelError(f"could not export the model to ONNX: {_one_line(exc)}",
                         path=path) from exc
    finally:
        model.train(was_training)
    return path


def _with_embedding(net):
    """``net`` as a module whose forward is its ``forward_and_embed`` (for the export)."""
    from torch import nn

    class ScoreAndEmbed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, images):
            out, embedding = self.net.forward_and_embed(images)
            return out, embedding.float()

    return ScoreAndEmbed().train(net.training)


def _cuda_usable() -> bool:
    """True when a CUDA device really works (asked of torch, imported only here)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


class OnnxScorer:
    """Runs an exported score model: ``scorer(batch) -> (B, 10)`` float32 distributions, or
    ``(B,)`` means for a mean-only model (``output`` says which)."""

    def __init__(self, path: Path, *, device: Literal["auto", "cpu", "cuda"] = "auto") -> None:
        self.path = Path(path)
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', not {device!r}")
        if not self.path.is_file():
            raise ModelError("the ONNX score model is missing", path=self.path)
        available = ort.get_available_providers()
        want_cuda = device == "cuda" or (device == "auto" and _cuda_usable())
        providers = [CUDA, CPU] if want_cuda and CUDA in available else [CPU]
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads sleep instead of spinning: scoring shares the cores with
        # the photo decoders, and a spinning thread steals the time they need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as exc:
            raise ModelError(f"could not load the ONNX score model: {_one_line(exc)}",
                             path=self.path) from exc
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or inputs[0].name != INPUT_NAME or len(inputs[0].shape) != 4:
            raise ModelError("not a score model (expected one 4-D input named 'image')",
                             path=self.path)
        outputs = [o.name for o in self.session.get_outputs()]
        if OUTPUT_NAME in outputs:
            self.output_name, self.output = OUTPUT_NAME, "distribution"
        elif MEAN_OUTPUT_NAME in outputs:
            self.output_name, self.output = MEAN_OUTPUT_NAME, "mean"
        else:
            raise ModelError("not a score model (expected an output named 'distribution' or "
                             "'mean')", path=self.path)
        # Exports made before EXPORT_VERSION x2 have no embedding: they score, nothing more
        self.embeds = EMBEDDING_NAME in outputs
        size = inputs[0].shape[2]
        self.input_size: int | None = size if isinstance(size, int) else None
        self.provider: str = self.session.get_providers()[0]
        if device == "cuda" and self.provider != CUDA:
            log.warning("CUDA was requested for %s but is not usable; running on %s",
                        self.path.name, self.provider)
        log.info("ONNX score model %s runs on %s", self.path.name, self.provider)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Score a normalised ``(B, 3, S, S)`` batch; returns ``(B, 10)`` (or ``(B,)``)
        float32."""
        return self._run([self.output_name], batch)[0]

    def score_and_embed(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The scores and, when the export has one, the ``(B, D)`` embedding (else None)."""
        if not self.embeds:
            return self(batch), None
        out, embedding = self._run([self.output_name, EMBEDDING_NAME], batch)
        return out, embedding

    def _run(self, names: list[str], batch: np.ndarray) -> list[np.ndarray]:
        batch = np.asarray(batch)
        if not np.issubdtype(batch.dtype, np.floating):
            raise ModelError(f"the score model needs a normalised float batch, got {batch.dtype}",
                             path=self.path)
        size = self.input_size
        expected = f"(B, 3, {size or 'S'}, {size or 'S'})"
        if batch.ndim != 4 or batch.shape[1] != 3 or batch.shape[0] < 1 or (
            size is not None and batch.shape[2:] != (size, size)
        ):
            raise ModelError(f"the score model needs a batch of shape {expected}, "
                             f"got {tuple(batch.shape)}", path=self.path)
        feed = {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)}
        try:
            outs = self.session.run(names, feed)
        except Exception as exc:
            raise ModelError(f"the ONNX score model failed: {_one_line(exc)}",
                             path=self.path) from exc
        return [np.asarray(out, dtype=np.float32) for out in outs]


def images_per_second(
    score: Callable[[np.ndarray], object], batch: np.ndarray, *, repeats: int = 5,
    warmup: int = 1,
) -> float:
    """Throughput of ``score`` (an :class:`OnnxScorer` or any batch function) on ``batch``."""
    for _ in range(warmup):
        score(batch)
    start = time.perf_counter()
    for _ in range(repeats):
        score(batch)
    return repeats * len(batch) / (time.perf_counter() - start)
