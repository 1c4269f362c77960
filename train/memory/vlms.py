"""The critic's estimate: known small VLMs built from their configs on the meta device
(no download, no weights), LoRA on their language model, and the table the README and
the wizard show.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from train.memory.estimate import (
    CUDA_WORKSPACE_BYTES,
    DEFAULT_LIMIT,
    GiB,
    MemoryEstimate,
    _combine,
)
from train.memory.measure import _quiet, measure_activations


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
