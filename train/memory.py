"""How much GPU memory a training run will need, estimated before it starts.

An out-of-memory error after a ten-minute model load, or an hour into a run,
is the worst way to learn that a batch size does not fit an 11 GB RTX 2080 Ti.
This module answers first, in a second, without a GPU and without weights:

- **parameters**: every parameter and buffer at its own dtype (frozen ones
  cost only this);
- **gradients**: one per trainable parameter, at its dtype (fp32: trainable
  parameters stay fp32 under autocast);
- **optimizer states**: AdamW keeps two per trainable parameter (exp_avg and
  exp_avg_sq), at the parameter's dtype;
- **activations**: what autograd saves for backward, *measured*: one forward
  pass with batch 1 under :func:`torch.autograd.graph.saved_tensors_hooks`
  adds up the bytes of every tensor saved for backward (each storage once),
  times the batch size. The pass runs on PyTorch's ``meta`` device (shapes
  only, no memory, no compute), falling back to the model's own device when a
  model does something the meta device cannot (data-dependent shapes);
- **transient**: buffers that are never saved but exist for a moment at the
  peak, chiefly the gradients of the largest saved tensor during backward (for
  a language model: the logits, batch × sequence × vocabulary);
- **workspace**: the CUDA context, cuBLAS/cuDNN workspaces and the caching
  allocator's slack (:data:`CUDA_WORKSPACE_BYTES`), none of which shows up in
  tensors but all of which comes out of the card's 11 GB.

Approximations, stated once:

- *Autocast* (``amp=True``): real autocast does not run on meta tensors, so
  :class:`_MetaAutocast` imitates it above autograd: the inputs of the ops
  CUDA autocast runs in fp16 (matmuls, convolutions, attention) are cast to
  fp16, those of its fp32 ops (softmax, norms, losses, exp/log/pow) to fp32,
  and everything else computes in its inputs' dtypes. The saved tensors then
  have the dtypes they have on the GPU, including the fp16 copies of fp32
  weights that matmuls keep for backward (counted once per weight, not per
  sample; a trainable weight's copy is cached by autocast for the whole step).
  Where a model trips over the imitation, or runs on the CPU fallback, fp32
  saved tensors are counted at half size instead, and the estimate says so.
- *Gradient checkpointing*: the model's repeated blocks (transformers'
  ``GradientCheckpointingLayer`` modules, else the children of its largest
  ``ModuleList`` or inner ``Sequential``, else ⌈√n⌉ segments of a bare
  ``Sequential``; see :func:`_checkpoint_blocks`) keep only
  their input during forward and recompute their insides during backward, one
  block at a time. So the estimate is: everything saved outside the blocks,
  plus each block's input, plus the largest single block's saved tensors. The
  per-block numbers come from the same measured pass, attributed with forward
  hooks; nothing is guessed from the architecture.
- *Backward buffers* are taken as twice the largest saved tensor (its
  gradient, and the gradient of its input); for a language model's logits
  that is close, for other models it errs high.
- Activations are measured with batch 1 and multiplied by the batch size;
  what does not grow with the batch (masks, rotary tables) is over-counted.
- The measurement covers what the model's forward (and ``loss_fn``) saves; a
  loss computed elsewhere is not in it. Tensors that exist only during the
  forward (a frozen vision tower's activations) are not counted.

:func:`estimate_critic_memory` applies this to the critic: a small VLM with
LoRA adapters on its language model, built from a config on the meta device
(no download, no weights) -- see :data:`KNOWN_VLMS` and
:func:`critic_memory_table`.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

GiB = 1024**3

# The CUDA context with cuBLAS/cuDNN and their workspaces (a few hundred MB with
# CUDA's lazy module loading; it varies with driver and library versions) plus
# the caching allocator's fragmentation slack. 0.75 GiB errs on the side of
# "fits" meaning fits.
CUDA_WORKSPACE_BYTES = int(0.75 * GiB)

# Optimizer states per trainable parameter, at the parameter's dtype.
OPTIMIZER_STATES = {"adamw": 2, "adam": 2, "sgd": 1}  # sgd: with momentum

DEFAULT_LIMIT = 11 * GiB  # an RTX 2080 Ti


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak GPU memory of a training step, in bytes, broken into its parts."""

    parameters: int
    gradients: int
    optimizer_states: int
    activations: int
    transient: int
    workspace: int
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return (
            self.parameters
            + self.gradients
            + self.optimizer_states
            + self.activations
            + self.transient
            + self.workspace
        )

    def fits(self, limit_bytes: int | None) -> bool:
        """Whether the whole estimate fits ``limit_bytes`` (None: no limit, e.g. the CPU)."""
        return limit_bytes is None or self.total <= limit_bytes

    def describe(self, limit_bytes: int | None = None) -> str:
        """Several lines in GiB, for the terminal and the wizard's details pane."""
        rows = [
            ("parameters", self.parameters),
            ("gradients", self.gradients),
            ("optimizer states", self.optimizer_states),
            ("activations", self.activations),
            ("backward buffers", self.transient),
            ("CUDA workspace", self.workspace),
        ]
        lines = [f"  {label:<17}{_gib(value):>9}" for label, value in rows]
        lines.append(f"  {'total':<17}{_gib(self.total):>9}")
        if limit_bytes is not None:
            verdict = "fits" if self.fits(limit_bytes) else "does NOT fit"
            lines.append(f"  {verdict} in {_gib(limit_bytes).strip()}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "estimated peak GPU memory:\n" + "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["notes"] = list(self.notes)
        record["total"] = self.total
        return record


@dataclass
class ActivationMeasurement:
    """Bytes saved for backward by one batch-1 forward pass, in autocast's dtypes."""

    outside: int = 0  # saved outside any checkpointable block
    blocks: dict[int, int] = field(default_factory=dict)  # block index -> saved bytes
    block_inputs: dict[int, int] = field(default_factory=dict)  # block index -> input bytes
    # the part of a block's saved bytes that is its own input (kept anyway when checkpointed)
    block_inputs_saved: dict[int, int] = field(default_factory=dict)
    # fp16 copies autocast makes of frozen fp32 weights: fixed per step, not per sample
    weight_copies_outside: int = 0
    weight_copies_blocks: dict[int, int] = field(default_factory=dict)
    trainable_weight_copies: int = 0  # autocast caches these for the whole step
    largest: int = 0  # the biggest single saved tensor
    device: str = "meta"
    autocast: str = "off"  # "imitated" on meta, "real" on a GPU, "halved" as a fallback

    @property
    def saved(self) -> int:
        return self.outside + sum(self.blocks.values())


def estimate_training_memory(
    model: nn.Module,
    sample_inputs: dict[str, Any] | tuple | torch.Tensor,
    *,
    batch_size: int,
    amp: bool,
    gradient_checkpointing: bool,
    optimizer: str = "adamw",
    loss_fn: Callable[[Any], torch.Tensor] | None = None,
    workspace: int = CUDA_WORKSPACE_BYTES,
) -> MemoryEstimate:
    """Estimate peak training memory of ``model`` on inputs like ``sample_inputs``.

    ``sample_inputs``: one example with batch size 1, as keyword arguments (a
    dict), positional arguments (a tuple) or a single tensor. Only shapes and
    dtypes matter when the meta device works. ``loss_fn(output)`` adds the
    loss's own saved tensors when the model does not compute its loss itself.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    measurement = measure_activations(model, sample_inputs, amp=amp, loss_fn=loss_fn)
    return _combine(
        model,
        measurement,
        batch_size=batch_size,
        gradient_checkpointing=gradient_checkpointing,
        optimizer=optimizer,
        workspace=workspace,
    )


def measure_activations(
    model: nn.Module,
    sample_inputs: dict[str, Any] | tuple | torch.Tensor,
    *,
    amp: bool,
    loss_fn: Callable[[Any], torch.Tensor] | None = None,
    frozen_dtype: torch.dtype | None = None,
) -> ActivationMeasurement:
    """Run one batch-1 forward pass and record what it saves for backward.

    Tries, in order: the meta device with autocast imitated (exact dtypes);
    the meta device in the model's dtypes with fp32 halved (for models whose
    code trips over the imitation); a real pass on the model's own device
    (for data-dependent shapes the meta device cannot run), under real
    autocast on a GPU. ``frozen_dtype`` holds frozen float weights in that
    dtype on meta (the trainer keeps frozen base weights in fp16).
    """
    attempts = [True, False] if amp else [False]
    for imitate in attempts:
        try:
            return _measure(
                model,
                sample_inputs,
                amp=amp,
                loss_fn=loss_fn,
                on_meta=True,
                imitate_autocast=imitate,
                frozen_dtype=frozen_dtype,
            )
        except (NotImplementedError, RuntimeError, TypeError, ValueError, IndexError):
            if not imitate and _model_device(model) == "meta":
                raise
    # Data-dependent shapes (boolean masks, .item(), .nonzero()) cannot run on the
    # meta device; a real batch-1 pass on the model's own device can.
    return _measure(
        model,
        sample_inputs,
        amp=amp,
        loss_fn=loss_fn,
        on_meta=False,
        imitate_autocast=False,
        frozen_dtype=None,
    )


def _measure(
    model: nn.Module,
    sample_inputs: Any,
    *,
    amp: bool,
    loss_fn: Callable[[Any], torch.Tensor] | None,
    on_meta: bool,
    imitate_autocast: bool,
    frozen_dtype: torch.dtype | None,
) -> ActivationMeasurement:
    parameters = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    device = "meta" if on_meta else _model_device(model)
    real_autocast = amp and not on_meta and device == "cuda"
    halve = amp and not imitate_autocast and not real_autocast
    if on_meta:
        twins = {
            name: _meta_twin(p, frozen_dtype if imitate_autocast and not p.requires_grad else None)
            for name, p in parameters.items()
        }
        twins.update({name: _meta_twin(b) for name, b in buffers.items()})
        inputs = _map_tensors(sample_inputs, _meta_twin)
        originals = {id(twins[name]): p for name, p in parameters.items()}
        weights = set(originals) | {id(twins[name]) for name in buffers}
        weight_storages: set[int] = set()
    else:
        twins = {}
        inputs = sample_inputs
        originals = {id(p): p for p in parameters.values()}
        weights = set(originals) | {id(b) for b in buffers.values()}
        weight_storages = {
            _storage_ptr(t) for t in [*parameters.values(), *buffers.values()] if t.numel()
        }
    mode = _MetaAutocast(weights) if imitate_autocast else None
    measurement = ActivationMeasurement(
        device=device,
        autocast=_autocast_kind(amp, imitated=mode is not None, real=real_autocast),
    )
    recorder = _Recorder(
        measurement,
        on_meta=on_meta,
        halve=halve,
        weights=weights,
        originals=originals,
        weight_storages=weight_storages,
        mode=mode,
    )
    handles = recorder.attach(_checkpoint_blocks(model))
    autocast = (
        torch.autocast(device_type="cuda", dtype=torch.float16)
        if real_autocast
        else contextlib.nullcontext()
    )
    # Training mode, because dropout masks are part of training memory; a real
    # pass must leave no trace: running statistics and the RNG are restored.
    modes = {module: module.training for module in model.modules()}
    buffers_before = {} if on_meta else {n: b.detach().clone() for n, b in buffers.items()}
    rng = torch.random.fork_rng(devices=[] if device != "cuda" else None, enabled=not on_meta)
    model.train()
    try:
        with (
            torch.enable_grad(),
            rng,
            torch.autograd.graph.saved_tensors_hooks(recorder.pack, lambda tensor: tensor),
            mode or contextlib.nullcontext(),
            autocast,
            _quiet(),
        ):
            output = _call(model, twins, inputs)
            if loss_fn is not None:
                loss_fn(output)
            del output
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
        with torch.no_grad():
            for name, value in buffers_before.items():
                buffers[name].copy_(value)
        recorder.keep.clear()
    return measurement


class _Recorder:
    """The saved-tensor hook and block hooks of one measuring pass."""

    def __init__(
        self,
        measurement: ActivationMeasurement,
        *,
        on_meta: bool,
        halve: bool,
        weights: set[int],
        originals: dict[int, torch.Tensor],
        weight_storages: set[int],
        mode: _MetaAutocast | None,
    ) -> None:
        self.measurement = measurement
        self.on_meta = on_meta
        self.halve = halve
        self.weights = weights
        self.originals = originals
        self.weight_storages = weight_storages
        self.mode = mode
        self.active: int | None = None  # index of the outermost block running now
        self.active_input: Any = None  # storage key of that block's input
        self.seen: dict[Any, int] = {}  # storage key -> bytes counted
        self.seen_weights: set[int] = set()
        self.keep: list[torch.Tensor] = []  # keeps ids unique until the pass is done

    def attach(self, blocks: list[tuple[nn.Module, nn.Module]]) -> list[Any]:
        handles = []
        for index, (first, last) in enumerate(blocks):
            handles.append(first.register_forward_pre_hook(self._enter(index), with_kwargs=True))
            handles.append(last.register_forward_hook(self._leave(index)))
        return handles

    def key(self, tensor: torch.Tensor) -> Any:
        # On meta a view's base stands for its storage (meta storages have no address).
        if self.on_meta:
            return id(tensor._base if tensor._base is not None else tensor)
        return _storage_ptr(tensor)

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        self.keep.append(tensor)
        base = tensor._base if tensor._base is not None else tensor
        weight_id = next((i for i in (id(tensor), id(base)) if i in self.weights), None)
        if weight_id is None and self.mode is not None:
            cast_of = self.mode.weight_casts.get(id(base))
            if cast_of is not None:
                self._weight_copy(cast_of, base.numel() * base.element_size())
                return tensor
        if weight_id is not None:
            original = self.originals.get(weight_id)
            if self.halve and original is not None and original.dtype == torch.float32:
                self._weight_copy(weight_id, original.numel() * 2)  # what autocast would copy
            return tensor
        if not self.on_meta and _storage_ptr(tensor) in self.weight_storages:
            return tensor

        key = self.key(tensor)
        if self.on_meta:
            size = base.numel() * base.element_size()
        else:
            size = tensor.untyped_storage().nbytes()
        if self.halve and tensor.dtype == torch.float32:
            size //= 2
        if self.seen.get(key, -1) >= size:
            return tensor
        grown = size - self.seen.get(key, 0)
        self.seen[key] = size
        m = self.measurement
        m.largest = max(m.largest, size)
        if self.active is None:
            m.outside += grown
        else:
            m.blocks[self.active] = m.blocks.get(self.active, 0) + grown
            if key == self.active_input:
                m.block_inputs_saved[self.active] = grown
        return tensor

    def _weight_copy(self, weight_id: int, size: int) -> None:
        original = self.originals.get(weight_id)
        if original is None or original.dim() < 2:
            return
        m = self.measurement
        if original.requires_grad:
            # Autocast caches the cast of a trainable weight: one copy per step.
            if weight_id not in self.seen_weights:
                m.trainable_weight_copies += size
        elif self.active is None:
            m.weight_copies_outside += size
        else:
            m.weight_copies_blocks[self.active] = m.weight_copies_blocks.get(self.active, 0) + size
        self.seen_weights.add(weight_id)

    def _enter(self, index: int):
        def hook(module, args, kwargs):
            if self.active is not None:
                return
            self.active = index
            hidden = next(
                (a for a in [*args, kwargs.get("hidden_states")] if _is_float_tensor(a)), None
            )
            self.active_input = None
            if hidden is not None:
                self.keep.append(hidden)
                self.active_input = self.key(hidden)
                self.measurement.block_inputs[index] = hidden.numel() * hidden.element_size()

        return hook

    def _leave(self, index: int):
        def hook(module, args, output):
            if self.active == index:
                self.active = None

        return hook


# The ops CUDA autocast runs in fp16, and those it runs in fp32 (from PyTorch's
# autocast op reference); every other op computes in the dtype its inputs have.
_AUTOCAST_FP16 = frozenset(
    """
    linear matmul __matmul__ __rmatmul__ mm mv bmm addmm addmv addr addbmm baddbmm
    chain_matmul conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d
    conv_tbc prelu einsum scaled_dot_product_attention
    _scaled_dot_product_efficient_attention
    """.split()  # noqa: SIM905
)
_AUTOCAST_FP32 = frozenset(
    """
    softmax log_softmax softmin cross_entropy nll_loss kl_div l1_loss smooth_l1_loss
    huber_loss mse_loss binary_cross_entropy_with_logits margin_ranking_loss
    multilabel_margin_loss soft_margin_loss triplet_margin_loss multi_margin_loss
    hinge_embedding_loss cosine_embedding_loss poisson_nll_loss layer_norm group_norm
    norm normalize cosine_similarity pdist cdist dist renorm logsumexp sum prod cumsum
    cumprod exp expm1 log log10 log1p log2 pow __pow__ __rpow__ rsqrt reciprocal
    softplus acos asin cosh sinh tan erfinv __rdiv__ __rtruediv__
    """.split()  # noqa: SIM905
)


class _MetaAutocast(TorchFunctionMode):
    """fp16 autocast imitated on the meta device, above autograd as the real one is.

    Real autocast does not run on meta tensors. Casting the inputs of
    autocast's fp16 ops to fp16 (and of its fp32 ops to fp32) *before* autograd
    sees them makes the forward save what it saves on a GPU: the fp16 copies
    that matmuls keep, the fp32 tensors that softmax, norms and losses keep.
    Casts of weights are remembered, so that those copies can be counted once
    per weight rather than once per sample.
    """

    def __init__(self, weights: set[int]) -> None:
        super().__init__()
        self.weights = weights
        self.weight_casts: dict[int, int] = {}  # id(fp16 copy) -> id(weight)
        self._keep: list[torch.Tensor] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in _AUTOCAST_FP16:
            args, kwargs = self._cast((args, kwargs), torch.float16)
        elif name in _AUTOCAST_FP32:
            args, kwargs = self._cast((args, kwargs), torch.float32)
        return func(*args, **kwargs)

    def _cast(self, value: Any, dtype: torch.dtype) -> Any:
        if isinstance(value, torch.Tensor):
            if dtype == torch.float32:
                castable = value.dtype in (torch.float16, torch.bfloat16)
            else:
                castable = value.dtype == torch.float32
            if not castable:
                return value
            cast = value.to(dtype)
            if id(value) in self.weights:
                self.weight_casts[id(cast)] = id(value)
                self._keep.append(cast)
            return cast
        if isinstance(value, dict):
            return {k: self._cast(v, dtype) for k, v in value.items()}
        if isinstance(value, tuple | list):
            return type(value)(self._cast(v, dtype) for v in value)
        return value


def _combine(
    model: nn.Module,
    measurement: ActivationMeasurement,
    *,
    batch_size: int,
    gradient_checkpointing: bool,
    optimizer: str,
    workspace: int,
    frozen_dtype: torch.dtype | None = None,
) -> MemoryEstimate:
    """Turn a batch-1 measurement and the model's parameters into an estimate."""
    if optimizer not in OPTIMIZER_STATES:
        raise ValueError(
            f"unknown optimizer {optimizer!r}: choose one of {', '.join(OPTIMIZER_STATES)}"
        )
    parameters = gradients = 0
    for tensor in _unique_tensors(model):
        itemsize = tensor.element_size()
        if frozen_dtype is not None and not tensor.requires_grad and tensor.is_floating_point():
            itemsize = frozen_dtype.itemsize
        parameters += tensor.numel() * itemsize
        if isinstance(tensor, nn.Parameter) and tensor.requires_grad:
            gradients += tensor.numel() * tensor.element_size()
    optimizer_states = gradients * OPTIMIZER_STATES[optimizer]

    m = measurement
    plain = _saved_without_checkpointing(m, batch_size)
    notes = []
    if not gradient_checkpointing:
        activations = plain
    elif not m.blocks:
        activations = plain
        notes.append("no repeated blocks found: checkpointing left out of the estimate")
    else:
        activations = _saved_with_checkpointing(m, batch_size)
        if activations >= plain:
            notes.append("gradient checkpointing saves no memory on a model this shallow")
    activations += m.trainable_weight_copies
    if m.autocast == "halved":
        notes.append("autocast approximated: fp32 saved tensors counted at half size")
    if frozen_dtype is not None and frozen_dtype != torch.float32:
        notes.append(f"frozen weights held in {str(frozen_dtype).removeprefix('torch.')}")
    if m.device != "meta":
        notes.append(f"activations measured with a real pass on {m.device}")
    return MemoryEstimate(
        parameters=parameters,
        gradients=gradients,
        optimizer_states=optimizer_states,
        activations=activations,
        transient=2 * batch_size * m.largest,
        workspace=workspace,
        notes=tuple(notes),
    )


def _saved_without_checkpointing(m: ActivationMeasurement, batch_size: int) -> int:
    return batch_size * m.saved + m.weight_copies_outside + sum(m.weight_copies_blocks.values())


def _saved_with_checkpointing(m: ActivationMeasurement, batch_size: int) -> int:
    """Outside the blocks + every block's input + the largest block being recomputed.

    A block's input is kept once whether or not the block also saves it, so
    the recomputed block counts without its own input.
    """
    recompute = [
        batch_size * (m.blocks.get(i, 0) - m.block_inputs_saved.get(i, 0))
        + m.weight_copies_blocks.get(i, 0)
        for i in set(m.blocks) | set(m.weight_copies_blocks)
    ]
    return (
        batch_size * (m.outside + sum(m.block_inputs.values()))
        + m.weight_copies_outside
        + max(recompute, default=0)
    )


# -- the critic: a small VLM with LoRA on its language model -------------------------------


@dataclass(frozen=True)
class VlmSpec:
    """A known VLM, described by its config alone (no weights, no download)."""

    name: str  # the Hugging Face repo id
    text: dict[str, Any]  # LlamaConfig fields
    vision: dict[str, Any]  # Idefics3VisionConfig fields
    scale_factor: int  # pixel shuffle: (patches per side / scale_factor)² tokens per tile
    published_parameters: int  # as its model card states it
    # A 3:2 photo at the processor's default size: 4 × 3 tiles plus one
    # downscaled whole-image tile.
    default_tiles: int = 13

    @property
    def tokens_per_tile(self) -> int:
        per_side = self.vision["image_size"] // self.vision["patch_size"]
        return (per_side // self.scale_factor) ** 2

    def config(self):
        """The transformers ``Idefics3Config`` (SmolVLM is Idefics3 with SmolLM2 inside)."""
        from transformers import Idefics3Config

        return Idefics3Config(
            text_config={"model_type": "llama", "tie_word_embeddings": False, **self.text},
            vision_config=dict(self.vision),
            scale_factor=self.scale_factor,
            image_token_id=49190,
            tie_word_embeddings=False,
        )


_SIGLIP_BASE_512 = {  # google/siglip-base-patch16-512, as SmolVLM-256M/500M use it
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "image_size": 512,
    "patch_size": 16,
}
_SIGLIP_SO400M_384 = {  # google/siglip-so400m-patch14-384, as SmolVLM-Instruct uses it
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "num_hidden_layers": 27,
    "num_attention_heads": 16,
    "image_size": 384,
    "patch_size": 14,
}

KNOWN_VLMS: dict[str, VlmSpec] = {
    spec.name: spec
    for spec in (
        VlmSpec(
            name="HuggingFaceTB/SmolVLM-256M-Instruct",
            text={  # SmolLM2-135M
                "hidden_size": 576,
                "intermediate_size": 1536,
                "num_hidden_layers": 30,
                "num_attention_heads": 9,
                "num_key_value_heads": 3,
                "head_dim": 64,
                "vocab_size": 49280,
                "max_position_embeddings": 8192,
                "rms_norm_eps": 1e-5,
                "rope_parameters": {"rope_type": "default", "rope_theta": 100000.0},
            },
            vision=_SIGLIP_BASE_512,
            scale_factor=4,  # 512/16 = 32 patches a side -> 8 × 8 = 64 tokens per tile
            published_parameters=256_000_000,
        ),
        VlmSpec(
            name="HuggingFaceTB/SmolVLM-500M-Instruct",
            text={  # SmolLM2-360M
                "hidden_size": 960,
                "intermediate_size": 2560,
                "num_hidden_layers": 32,
                "num_attention_heads": 15,
                "num_key_value_heads": 5,
                "head_dim": 64,
                "vocab_size": 49280,
                "max_position_embeddings": 8192,
                "rms_norm_eps": 1e-5,
                "rope_parameters": {"rope_type": "default", "rope_theta": 100000.0},
            },
            vision=_SIGLIP_BASE_512,
            scale_factor=4,
            published_parameters=507_000_000,
        ),
        VlmSpec(
            name="HuggingFaceTB/SmolVLM-Instruct",
            text={  # SmolLM2-1.7B
                "hidden_size": 2048,
                "intermediate_size": 8192,
                "num_hidden_layers": 24,
                "num_attention_heads": 32,
                "num_key_value_heads": 32,
                "vocab_size": 49155,
                "max_position_embeddings": 16384,
                "rms_norm_eps": 1e-5,
                "rope_parameters": {"rope_type": "default", "rope_theta": 273768.0},
            },
            vision=_SIGLIP_SO400M_384,
            scale_factor=3,  # 384/14 = 27 patches a side -> 9 × 9 = 81 tokens per tile
            published_parameters=2_250_000_000,
        ),
    )
}
DEFAULT_CRITIC = "HuggingFaceTB/SmolVLM-256M-Instruct"
DEFAULT_TEXT_TOKENS = 512  # prompt + grounding measurements + the critique itself
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

# What the estimate assumes attention saves: the memory-efficient SDPA kernel's
# tensors (q, k, v, output, logsumexp), which is what fp16 on a 2080 Ti gets.
# The meta device would otherwise take the math path and save the whole
# sequence × sequence attention matrix of every layer.
_ESTIMATE_ATTENTION = "critique_memory_estimate"


def build_meta_model(config_or_name: Any) -> nn.Module:
    """A transformers model with the right shapes and no storage: no weights, no download.

    ``config_or_name``: a :data:`KNOWN_VLMS` name, a transformers config, or a
    local folder with a ``config.json``.
    """
    config = _resolve_config(config_or_name)
    _register_estimate_attention()
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    with torch.device("meta"), _quiet():
        try:
            return AutoModelForImageTextToText.from_config(
                config, attn_implementation=_ESTIMATE_ATTENTION
            )
        except ValueError:  # a text-only model
            return AutoModelForCausalLM.from_config(config, attn_implementation=_ESTIMATE_ATTENTION)


def estimate_critic_memory(
    model_config_name_or_config: Any = DEFAULT_CRITIC,
    *,
    lora_rank: int = 16,
    batch_size: int = 1,
    seq_len: int = DEFAULT_TEXT_TOKENS,
    image_tokens: int | None = None,
    amp: bool = True,
    gradient_checkpointing: bool = True,
    lora_dropout: float = 0.05,
    frozen_dtype: torch.dtype | None = None,
    optimizer: str = "adamw",
    workspace: int = CUDA_WORKSPACE_BYTES,
) -> MemoryEstimate:
    """Estimate LoRA fine-tuning of the critic VLM; nothing is downloaded.

    LoRA of rank ``lora_rank`` goes on the attention and MLP projections of the
    language model; the vision encoder, connector and embeddings stay frozen,
    so their forward saves nothing for backward. The sequence is ``seq_len``
    text tokens plus ``image_tokens`` (None: the model's tokens per tile ×
    its ``default_tiles``, i.e. one photo with image splitting; a folder or
    config gets one 64-token tile).

    ``frozen_dtype``: the dtype frozen base weights are held in; None means
    fp16 under ``amp`` (the weights are never updated, so fp32 would only
    double their memory) and fp32 otherwise. LoRA weights stay fp32.
    """
    estimates = _critic_estimates(
        model_config_name_or_config,
        batch_sizes=(batch_size,),
        lora_rank=lora_rank,
        seq_len=seq_len,
        image_tokens=image_tokens,
        amp=amp,
        gradient_checkpointing=gradient_checkpointing,
        lora_dropout=lora_dropout,
        frozen_dtype=frozen_dtype,
        optimizer=optimizer,
        workspace=workspace,
    )
    return estimates[0][1]


def critic_memory_table(
    profile_limit: int = DEFAULT_LIMIT,
    *,
    batch_sizes: Iterable[int] = (1, 2, 4),
    models: Iterable[str] | None = None,
    lora_rank: int = 16,
    seq_len: int = DEFAULT_TEXT_TOKENS,
    amp: bool = True,
    gradient_checkpointing: bool = True,
) -> list[dict[str, Any]]:
    """The default critic configuration for each known VLM and batch size: does it fit?

    One row per (model, batch size) with the breakdown in bytes, the total in
    GiB and ``fits`` against ``profile_limit`` (an RTX 2080 Ti's 11 GiB).
    """
    rows = []
    for name in models or KNOWN_VLMS:
        spec = KNOWN_VLMS[name]
        image_tokens = spec.tokens_per_tile * spec.default_tiles
        for batch_size, estimate in _critic_estimates(
            name,
            batch_sizes=tuple(batch_sizes),
            lora_rank=lora_rank,
            seq_len=seq_len,
            image_tokens=image_tokens,
            amp=amp,
            gradient_checkpointing=gradient_checkpointing,
        ):
            rows.append(
                {
                    "model": name,
                    "batch_size": batch_size,
                    "text_tokens": seq_len,
                    "image_tokens": image_tokens,
                    "lora_rank": lora_rank,
                    "amp": amp,
                    "gradient_checkpointing": gradient_checkpointing,
                    **estimate.to_dict(),
                    "total_gib": round(estimate.total / GiB, 2),
                    "limit_bytes": profile_limit,
                    "fits": estimate.fits(profile_limit),
                }
            )
    return rows


def _critic_estimates(
    config_or_name: Any,
    *,
    batch_sizes: tuple[int, ...],
    lora_rank: int,
    seq_len: int,
    image_tokens: int | None,
    amp: bool,
    gradient_checkpointing: bool,
    lora_dropout: float = 0.05,
    frozen_dtype: torch.dtype | None = None,
    optimizer: str = "adamw",
    workspace: int = CUDA_WORKSPACE_BYTES,
) -> list[tuple[int, MemoryEstimate]]:
    """Build and measure once, then combine for each batch size."""
    if image_tokens is None:
        spec = KNOWN_VLMS.get(config_or_name) if isinstance(config_or_name, str) else None
        image_tokens = spec.tokens_per_tile * spec.default_tiles if spec else 64
    model = add_lora(build_meta_model(config_or_name), rank=lora_rank, dropout=lora_dropout)
    hidden = _text_hidden_size(model)
    length = seq_len + image_tokens
    # The trainer embeds tokens and merges image features itself; the frozen
    # embedding and vision tower save nothing, so the text model's input is
    # where the saved tensors start.
    inputs = {
        "inputs_embeds": torch.empty(1, length, hidden, device="meta"),
        "labels": torch.zeros(1, length, dtype=torch.long, device="meta"),
    }
    if frozen_dtype is None:
        frozen_dtype = torch.float16 if amp else torch.float32
    measurement = measure_activations(model, inputs, amp=amp, frozen_dtype=frozen_dtype)
    return [
        (
            batch_size,
            _combine(
                model,
                measurement,
                batch_size=batch_size,
                gradient_checkpointing=gradient_checkpointing,
                optimizer=optimizer,
                workspace=workspace,
                frozen_dtype=frozen_dtype,
            ),
        )
        for batch_size in batch_sizes
    ]


def add_lora(model: nn.Module, *, rank: int, dropout: float = 0.05) -> nn.Module:
    """Wrap ``model`` with peft LoRA on its language model's projections (works on meta)."""
    from peft import LoraConfig, get_peft_model

    names = [name for name, _ in model.named_modules()]
    scope = r".*text_model\." if any(".text_model." in f".{n}." for n in names) else r".*"
    pattern = scope + r".*\.(" + "|".join(LORA_TARGETS) + r")"
    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=dropout, target_modules=pattern)
    with _quiet():
        return get_peft_model(model, config)


# -- helpers -----------------------------------------------------------------------------


def _resolve_config(config_or_name: Any):
    if isinstance(config_or_name, VlmSpec):
        return config_or_name.config()
    if isinstance(config_or_name, str | os.PathLike):
        name = os.fspath(config_or_name)
        if name in KNOWN_VLMS:
            return KNOWN_VLMS[name].config()
        if os.path.isfile(os.path.join(name, "config.json")):
            from transformers import AutoConfig

            return AutoConfig.from_pretrained(name, local_files_only=True)
        raise ValueError(
            f"unknown model {name!r}: choose one of {', '.join(KNOWN_VLMS)} "
            "or give a folder with a config.json"
        )
    return config_or_name  # a transformers config


def _register_estimate_attention() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(_ESTIMATE_ATTENTION, _memory_efficient_attention)


def _memory_efficient_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Causal attention through the memory-efficient SDPA kernel (for estimates only).

    Assumes causal attention without a padding mask; a padding mask would add
    one small bias tensor shared by all layers.
    """
    from transformers.integrations.sdpa_attention import repeat_kv

    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    output = torch.ops.aten._scaled_dot_product_efficient_attention(
        query, key, value, None, True, dropout, True, scale=scaling
    )[0]
    return output.transpose(1, 2).contiguous(), None


def _text_hidden_size(model: nn.Module) -> int:
    config = model.config
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return int(text.hidden_size)


def _checkpoint_blocks(model: nn.Module) -> list[tuple[nn.Module, nn.Module]]:
    """What gradient checkpointing would wrap, as (first, last) module of each segment.

    In order of preference: transformers' ``GradientCheckpointingLayer``
    modules (what ``gradient_checkpointing_enable()`` wraps); the largest
    ``ModuleList`` or ``Sequential`` below the root with more than one child
    (decoder layers, timm's stages); for a bare ``Sequential``, its children in
    ⌈√n⌉ consecutive segments, as ``torch.utils.checkpoint.checkpoint_sequential``
    would cut them.
    """
    layers = sys.modules.get("transformers.modeling_layers")
    layer_type = getattr(layers, "GradientCheckpointingLayer", None)
    if layer_type is not None:
        found = _outermost(model, lambda m: isinstance(m, layer_type))
        if found:
            return [(block, block) for block in found]
    containers = [
        m
        for m in model.modules()
        if m is not model and isinstance(m, nn.ModuleList | nn.Sequential) and len(m) > 1
    ]
    if containers:
        biggest = max(containers, key=lambda m: sum(p.numel() for p in m.parameters()))
        return [(block, block) for block in biggest]
    if isinstance(model, nn.Sequential) and len(model) > 1:
        children = list(model)
        size = math.ceil(len(children) / math.ceil(math.sqrt(len(children))))
        return [
            (children[i], children[min(i + size, len(children)) - 1])
            for i in range(0, len(children), size)
        ]
    return []


def _outermost(model: nn.Module, wanted: Callable[[nn.Module], bool]) -> list[nn.Module]:
    found: list[nn.Module] = []

    def walk(module: nn.Module) -> None:
        for child in module.children():
            if wanted(child):
                found.append(child)
            else:
                walk(child)

    walk(model)
    return found


def _call(model: nn.Module, twins: dict[str, torch.Tensor], inputs: Any) -> Any:
    if isinstance(inputs, dict):
        args, kwargs = (), inputs
    elif isinstance(inputs, tuple | list):
        args, kwargs = tuple(inputs), {}
    else:
        args, kwargs = (inputs,), {}
    if not twins:
        return model(*args, **kwargs)
    return torch.func.functional_call(model, twins, args, kwargs, tie_weights=True, strict=False)


def _autocast_kind(amp: bool, *, imitated: bool, real: bool) -> str:
    if not amp:
        return "off"
    return "imitated" if imitated else "real" if real else "halved"


def _meta_twin(tensor: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A storage-less tensor of the same shape and requires_grad (float ones in ``dtype``)."""
    if dtype is None or not tensor.is_floating_point():
        dtype = tensor.dtype
    twin = torch.empty(tensor.shape, dtype=dtype, device="meta")
    return twin.requires_grad_(tensor.requires_grad) if twin.is_floating_point() else twin


def _map_tensors(value: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_tensors(v, fn) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return type(value)(_map_tensors(v, fn) for v in value)
    return value


def _storage_ptr(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage().data_ptr()


def _is_float_tensor(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.is_floating_point()


def _unique_tensors(model: nn.Module) -> Iterator[torch.Tensor]:
    """Parameters and buffers, each shared (tied) tensor once."""
    seen: set[int] = set()
    for tensor in [*model.parameters(), *model.buffers()]:
        if id(tensor) not in seen:
            seen.add(id(tensor))
            yield tensor


def _model_device(model: nn.Module) -> str:
    tensor = next(iter(_unique_tensors(model)), None)
    return "cpu" if tensor is None else tensor.device.type


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Library warnings about deprecated flags are noise in a memory estimate."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _gib(value: int) -> str:
    return f"{value / GiB:.2f} GiB"


__all__ = [
    "CUDA_WORKSPACE_BYTES",
    "DEFAULT_CRITIC",
    "KNOWN_VLMS",
    "MemoryEstimate",
    "VlmSpec",
    "add_lora",
    "build_meta_model",
    "critic_memory_table",
    "estimate_critic_memory",
    "estimate_training_memory",
    "measure_activations",
]
