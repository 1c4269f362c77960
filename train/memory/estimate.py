"""The estimate itself: weights, gradients, optimizer states, measured activations,
backward buffers and the CUDA workspace, combined for a batch size (see the package's
docstring for what is approximated and how).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from train.memory.measure import ActivationMeasurement, _unique_tensors, measure_activations

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
    return memory_by_batch(model, sample_inputs, amp=amp,
                           gradient_checkpointing=gradient_checkpointing, optimizer=optimizer,
                           loss_fn=loss_fn, workspace=workspace)(batch_size)


def memory_by_batch(
    model: nn.Module,
    sample_inputs: dict[str, Any] | tuple | torch.Tensor,
    *,
    amp: bool,
    gradient_checkpointing: bool,
    optimizer: str = "adamw",
    loss_fn: Callable[[Any], torch.Tensor] | None = None,
    workspace: int = CUDA_WORKSPACE_BYTES,
) -> Callable[[int], MemoryEstimate]:
    """:func:`estimate_training_memory` for any batch size, measuring the model once
    (a caller looking for a batch size that fits asks several times)."""
    measurement = measure_activations(model, sample_inputs, amp=amp, loss_fn=loss_fn)

    def estimate(batch_size: int) -> MemoryEstimate:
        return _combine(model, measurement, batch_size=batch_size,
                        gradient_checkpointing=gradient_checkpointing, optimizer=optimizer,
                        workspace=workspace)

    return estimate


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


def _gib(value: int) -> str:
    return f"{value / GiB:.2f} GiB"
