"""How much GPU memory a training run will need, estimated before it starts.

An out-of-memory error after a ten-minute model load, or an hour into a run,
is the worst way to learn that a batch size does not fit an 11 GB RTX 2080 Ti.
This package answers first, in a second, without a GPU and without weights:

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

from train.memory.estimate import (
    CUDA_WORKSPACE_BYTES,
    DEFAULT_LIMIT,
    OPTIMIZER_STATES,
    MemoryEstimate,
    estimate_training_memory,
    memory_by_batch,
)
from train.memory.measure import ActivationMeasurement, measure_activations
from train.memory.vlms import (
    DEFAULT_CRITIC,
    KNOWN_VLMS,
    LORA_TARGETS,
    VlmSpec,
    add_lora,
    build_meta_model,
    critic_memory_table,
    estimate_critic_memory,
)

__all__ = [
    "CUDA_WORKSPACE_BYTES",
    "DEFAULT_CRITIC",
    "DEFAULT_LIMIT",
    "KNOWN_VLMS",
    "LORA_TARGETS",
    "OPTIMIZER_STATES",
    "ActivationMeasurement",
    "MemoryEstimate",
    "VlmSpec",
    "add_lora",
    "build_meta_model",
    "critic_memory_table",
    "estimate_critic_memory",
    "estimate_training_memory",
    "measure_activations",
    "memory_by_batch",
]
