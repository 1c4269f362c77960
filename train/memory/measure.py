"""Measuring what a forward pass saves for backward, on PyTorch's meta device (shapes
only) with autocast imitated, or for real when a model cannot run on meta.
"""

from __future__ import annotations

import contextlib
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode


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
