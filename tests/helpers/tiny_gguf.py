"""A tiny, randomly initialised llama chat model written as a GGUF file, for offline tests.

The app's real text critic is SmolLM2-135M-Instruct as a GGUF (llama architecture, GPT-2
style byte-level BPE, ChatML). This module writes a file of the same shape in miniature
with the ``gguf`` package's ``GGUFWriter``, so loading through
``AutoTokenizer/AutoModelForCausalLM.from_pretrained(folder, gguf_file="tiny.gguf")`` can be
exercised without a model hub:

- the tokenizer is tiny_lms' byte-level BPE (``<|endoftext|>`` 0, ``<|im_start|>`` 1,
  ``<|im_end|>`` 2), stored as llama.cpp does for "gpt2" vocabularies: tokens in the
  byte-to-unicode spelling, merges as "a b" strings, the special tokens marked CONTROL;
  bos/eos/unk/pad ids and the ChatML template are those of SmolLM2-Instruct's GGUF
  (bos ``<|im_start|>``, eos and pad ``<|im_end|>``, unk ``<|endoftext|>``, no BOS added);
- the weights are a LlamaForCausalLM built in torch, with tied embeddings (no
  ``output.weight``, like SmolLM2), under llama.cpp's tensor names, with q/k rows permuted
  the way llama.cpp's converter does (transformers undoes it on load).
"""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from tests.helpers.tiny_lms import EOS, IM_END, IM_START, TEXT_SIZES, chat_template, train_tokenizer

GGUF_NAME = "tiny.gguf"
QUANT_TYPE = gguf.GGMLQuantizationType.Q8_0

# Special tokens as SmolLM2-Instruct's GGUF names them.
BOS_TOKEN, EOS_TOKEN, UNK_TOKEN, PAD_TOKEN = IM_START, IM_END, EOS, IM_END


def tiny_llama(seed: int = 0) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """The random model (and tokenizer) that ``save_tiny_gguf`` writes for this seed.

    Every parameter is drawn afresh (norms around 1, matrices with std 0.2), so the logits
    differ clearly between tokens and a misplaced tensor shows.
    """
    tokenizer = train_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer),
                         bos_token_id=tokenizer.convert_tokens_to_ids(BOS_TOKEN),
                         eos_token_id=tokenizer.convert_tokens_to_ids(EOS_TOKEN),
                         pad_token_id=tokenizer.convert_tokens_to_ids(PAD_TOKEN),
                         tie_word_embeddings=True, **TEXT_SIZES)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.copy_(1.0 + 0.1 * torch.randn_like(param))
            else:
                param.normal_(0.0, 0.2)
    return model, tokenizer


def llama_cpp_permute(weight: np.ndarray, n_head: int, n_head_kv: int) -> np.ndarray:
    """llama.cpp's ``LlamaModel.permute`` of q/k rows (rotary halves to interleaved pairs)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weight.reshape(n_head, 2, weight.shape[0] // n_head // 2, *weight.shape[1:])
            .swapaxes(1, 2)
            .reshape(weight.shape))


def gguf_tensors(model: LlamaForCausalLM) -> dict[str, np.ndarray]:
    """The model's weights under llama.cpp's names, q/k permuted, as float32 numpy arrays."""
    config = model.config
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
             "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}
    state = {k: v.detach().to(torch.float32).numpy() for k, v in model.state_dict().items()}
    tensors = {"token_embd.weight": state["model.embed_tokens.weight"]}
    for layer in range(config.num_hidden_layers):
        for hf_name, gguf_name in names.items():
            weight = state[f"model.layers.{layer}.{hf_name}.weight"]
            if gguf_name == "attn_q":
                weight = llama_cpp_permute(weight, heads, heads)
            elif gguf_name == "attn_k":
                weight = llama_cpp_permute(weight, heads, kv_heads)
            tensors[f"blk.{layer}.{gguf_name}.weight"] = weight
    tensors["output_norm.weight"] = state["model.norm.weight"]
    if not config.tie_word_embeddings:
        tensors["output.weight"] = state["lm_head.weight"]
    return {name: np.ascontiguousarray(weight) for name, weight in tensors.items()}


def _vocab_and_merges(tokenizer: PreTrainedTokenizerFast) -> tuple[list[str], list[str]]:
    vocab = tokenizer.backend_tokenizer.get_vocab(with_added_tokens=True)
    tokens = sorted(vocab, key=vocab.__getitem__)
    if [vocab[token] for token in tokens] != list(range(len(tokens))):
        raise ValueError("the tokenizer's ids are not contiguous from 0")
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    # tokenizers writes a merge as ["a", "b"] (older versions: "a b"); GGUF wants "a b".
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in merges]
    return tokens, merges


def save_tiny_gguf(folder: Path, *, seed: int = 0, quantized: bool = False) -> Path:
    """Write ``folder/tiny.gguf``: tiny_llama(seed) with its tokenizer; returns ``folder``.

    F32 throughout by default (loading gives back exactly the weights of ``tiny_llama``);
    with ``quantized`` the 2-D matrices are stored as Q8_0 and the norms stay F32, as in
    llama.cpp's own Q8_0 files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model, tokenizer = tiny_llama(seed)
    config = model.config
    tokens, merges = _vocab_and_merges(tokenizer)
    special = set(tokenizer.all_special_tokens)
    token_types = [gguf.TokenType.CONTROL if token in special else gguf.TokenType.NORMAL
                   for token in tokens]

    writer = gguf.GGUFWriter(folder / GGUF_NAME, arch="llama")
    writer.add_name("tiny-llama-gguf")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_dimension_count(config.head_dim)
    writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    file_type = gguf.LlamaFileType.MOSTLY_Q8_0 if quantized else gguf.LlamaFileType.ALL_F32
    writer.add_file_type(file_type)
    if quantized:
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokens.index(BOS_TOKEN))
    writer.add_eos_token_id(tokens.index(EOS_TOKEN))
    writer.add_unk_token_id(tokens.index(UNK_TOKEN))
    writer.add_pad_token_id(tokens.index(PAD_TOKEN))
    writer.add_add_bos_token(False)
    writer.add_chat_template(chat_template())

    for name, weight in gguf_tensors(model).items():
        if quantized and weight.ndim == 2:
            block = gguf.GGML_QUANT_SIZES[QUANT_TYPE][0]
            if weight.shape[1] % block:
                raise ValueError(f"{name}: {weight.shape[1]} columns is no multiple of {block}")
            # a uint8 array of blocks: the writer works the element shape out from it
            writer.add_tensor(name, gguf.quants.quantize(weight, QUANT_TYPE), raw_dtype=QUANT_TYPE)
        else:
            writer.add_tensor(name, weight)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return folder
