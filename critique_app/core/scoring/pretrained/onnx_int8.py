"""Pretrained scorers on the CPU through ONNX Runtime with int8 weights.

On a CPU, CLIP ViT-L/14's forward pass is nearly all of LAION v2's time (about 2 s a photo on
two cores in torch fp32; batching does not change that). Exported to ONNX and quantised
dynamically (the MatMul weights to int8, one scale per output channel; activations quantised
batch by batch at run time, which ONNX Runtime runs on int8 dot-product instructions), it
runs about 4x faster with scores within a few hundredths of torch's on the 1-10 scale
(``benchmarks/bench_clip_runtime.py``: speed and fidelity). Dynamic quantisation scales
the activations by the range of what is passed in one call, so a score would depend on which
photos share its batch: each photo runs alone (:func:`run_each`; in int8, one photo at a
time is as fast as eight together) and its score depends on that photo only.

The int8 file is made once, on first use, from the torch model, and cached under
``data_dir()/onnx`` by the scorer's version (its install record's hashes and its
preprocessing), like trained scorers' ONNX exports. At export time it must agree with torch
on a fixed set of inputs (:data:`PARITY_TOLERANCE`); an export that does not is refused,
that refusal recorded beside it, and the model runs with torch. Only architectures whose
speed and fidelity were measured take this path (:data:`INT8_ARCHITECTURES`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from critique_app.core.scoring.backbone import InputSpec
from critique_app.core.util.errors import ModelError
from critique_app.core.util.files import atomic_path
from critique_app.core.util.paths import data_dir

log = logging.getLogger("critique.scoring")

INT8_ARCHITECTURES = frozenset({"critique:laion-aesthetic-v2"})
# Largest |torch - int8| allowed on a mean score (1-10 scale) at export time; a score is
# shown with one decimal, so a difference under about 0.1 is not one a user can see.
PARITY_TOLERANCE = 0.1
RUNTIME = "onnx-int8"


def cache_path(version: str) -> Path:
    """Where the int8 export of the scorer with ``version`` is kept (by the export version
    too: an export without the "embedding" output is made again)."""
    from critique_app.core.scoring.onnx_runtime import EXPORT_VERSION

    return data_dir() / "onnx" / (version.replace(":", "-") + f"-{EXPORT_VERSION}-int8.onnx")


def parity_inputs(spec: InputSpec, count: int = 4) -> np.ndarray:
    """``count`` fixed, photo-like inputs (smooth gradients, a bright disc, fine texture),
    normalised as ``spec`` says: what the export is checked on."""
    size = spec.size
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    rng = np.random.default_rng(0)
    images = []
    for k in range(count):
        base = np.stack([x, y, 1 - x * y], axis=-1) if k % 2 == 0 else np.stack(
            [1 - y, 0.5 + 0.4 * np.sin(6 * x + k), x * 0.8], axis=-1)
        disc = ((x - 0.3 - 0.1 * k) ** 2 + (y - 0.6) ** 2 < 0.05)[..., None] * 0.4
        texture = rng.normal(0, 0.03 * (k + 1), (size, size, 3)).astype(np.float32)
        pixels = np.clip(base * (0.5 + 0.15 * k) + disc + texture, 0, 1)
        pixels = (pixels - np.float32(spec.mean)) / np.float32(spec.std)
        images.append(pixels.transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(images), dtype=np.float32)


def score_difference(reference: np.ndarray, other: np.ndarray) -> float:
    """Largest difference in mean score: outputs of (B,) means or (B, 10) probabilities."""
    reference, other = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    if reference.ndim == 2:  # distributions over 1..10: compare their means
        bins = np.arange(1, reference.shape[1] + 1)
        reference, other = reference @ bins, other @ bins
    return float(np.abs(reference.reshape(-1) - other.reshape(-1)).max())


def run_each(session, batch: np.ndarray) -> np.ndarray:
    """``session`` on each photo of ``batch`` alone, the outputs stacked in order."""
    return np.concatenate([session(batch[i:i + 1]) for i in range(len(batch))])


def run_each_and_embed(session, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`run_each` with the session's embeddings (None when its export has none)."""
    runs = [session.score_and_embed(batch[i:i + 1]) for i in range(len(batch))]
    outputs = np.concatenate([out for out, _ in runs])
    if any(embedding is None for _, embedding in runs):
        return outputs, None
    return outputs, np.concatenate([embedding for _, embedding in runs])


def quantise(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the MatMul weights, per output channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])


def export_int8(net, spec: InputSpec, path: Path) -> float:
    """Export the torch ``net`` (CPU, eval) to ``path`` as int8 ONNX; returns the largest
    score difference from torch on :func:`parity_inputs`. Raises :class:`ModelError` when
    it exceeds :data:`PARITY_TOLERANCE` (nothing is written then)."""
    import torch

    from critique_app.core.scoring.onnx_runtime import OnnxScorer, export_onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    inputs = parity_inputs(spec)
    with torch.inference_mode():
        reference = net(torch.from_numpy(inputs)).float().numpy()
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as scratch:
        fp32 = Path(scratch) / "fp32.onnx"
        export_onnx(net, fp32, spec.size, embedding=True)
        with atomic_path(path, durable=False) as temporary:
            try:
                quantise(fp32, temporary)
            except Exception as error:
                raise ModelError(f"could not quantise the ONNX export: {error}",
                                 path=path) from error
            difference = score_difference(reference, run_each(OnnxScorer(temporary, device="cpu"),
                                                                 inputs))
            if not difference <= PARITY_TOLERANCE:  # NaN fails too
                raise ModelError(f"the int8 export differs from torch by {difference:.3f} "
                                 f"(more than {PARITY_TOLERANCE}); refused", path=path)
    return difference


def files_state(folder: Path, files: dict) -> str:
    """The state of a model folder's installed files (sizes and modification times, no
    hashing): an export made from other files (replaced, repaired, damaged) is not used."""
    state = []
    for name in sorted(files):
        try:
            stat = (Path(folder) / name).stat()
            state.append((name, stat.st_size, stat.st_mtime_ns))
        except OSError:
            state.append((name, None, None))
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:16]


def _record(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def int8_session(architecture: str, version: str, spec: InputSpec,
                 load_net: Callable[[], object], state: str):
    """An :class:`OnnxScorer` running the int8 export of a pretrained scorer on the CPU, made
    (from ``load_net()``) and checked on first use; None when the architecture does not take
    this path or its export was refused (said in the log, recorded so it is not redone).
    ``state`` (:func:`files_state`) ties the export to the files it was made from; when they
    change it is made again (and a model that no longer loads fails in ``load_net``)."""
    if architecture not in INT8_ARCHITECTURES:
        return None
    from critique_app.core.scoring.onnx_runtime import OnnxScorer

    path = cache_path(version)
    made, refusal = path.with_suffix(".json"), path.with_suffix(".refused.json")
    if not (path.is_file() and _record(made).get("files_state") == state):
        if _record(refusal).get("files_state") == state:
            return None
        net = load_net()  # a model that will not load fails here, as with torch
        started = time.perf_counter()
        # A warning so that the terminal shows why the first scoring after a pull waits.
        log.warning("preparing %s for this CPU: an int8 ONNX export, made once (about a "
                    "minute)", version.split(":")[0])
        try:
            difference = export_int8(net, spec, path)
        except ModelError as error:
            log.warning("%s: running with torch instead (%s)", version, error)
            _write(refusal, {"version": version, "files_state": state, "why": str(error)})
            return None
        finally:
            del net
        _write(made, {"version": version, "files_state": state,
                      "max_difference_from_torch": round(difference, 5),
                      "parity_tolerance": PARITY_TOLERANCE})
        refusal.unlink(missing_ok=True)
        log.info("int8 ONNX export of %s made in %.0f s, max score difference from torch "
                 "%.4f", version, time.perf_counter() - started, difference)
    try:
        return OnnxScorer(path, device="cpu")
    except ModelError as error:
        log.warning("%s: the int8 ONNX export will not load, running with torch (%s)",
                    version, error)
        return None


def _write(path: Path, record: dict) -> None:
    with atomic_path(path, durable=False) as temporary:
        temporary.write_text(json.dumps(record), encoding="utf-8")
