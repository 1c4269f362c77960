"""tiny_gguf's GGUF file loads through transformers' Auto classes with ``gguf_file=`` and
gives back the very model that was written: weights, tokenizer, chat template, generation."""

from __future__ import annotations

from pathlib import Path

import gguf
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

from critique_app.core.critic.chat import model_inputs, render_prompt
from critique_app.core.critic.generation import GenerationSettings, stream_generate
from critique_app.core.critic.loading import TEXT, load_language_model, model_kind, unload_all
from tests.helpers.tiny_gguf import (
    BOS_TOKEN,
    EOS_TOKEN,
    GGUF_NAME,
    PAD_TOKEN,
    QUANT_TYPE,
    save_tiny_gguf,
    tiny_llama,
)
from tests.helpers.tiny_lms import CORPUS, IM_END, IM_START, TEXT_SIZES

pytestmark = [pytest.mark.slow,  # builds and runs tiny GGUF language models
              pytest.mark.filterwarnings("ignore::FutureWarning")]
SENTENCE = "The light falls softly across the frame, warming the sky!"
SEED = 3


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-gguf")
    return {"f32": save_tiny_gguf(root / "f32", seed=SEED),
            "q8_0": save_tiny_gguf(root / "q8_0", seed=SEED, quantized=True)}


@pytest.fixture(scope="module")
def reference() -> LlamaForCausalLM:
    return tiny_llama(SEED)[0]


def load(folder: Path):
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_NAME)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_NAME,
                                                 dtype=torch.float32).eval()
    return tokenizer, model


def q8_round_trip(weight: torch.Tensor) -> torch.Tensor:
    """What Q8_0 storage makes of a weight (q/k row permutations commute with it: Q8_0
    blocks run along a row)."""
    blocks = gguf.quants.quantize(weight.numpy(), QUANT_TYPE)
    return torch.from_numpy(gguf.quants.dequantize(blocks, QUANT_TYPE).copy())


def test_the_file_holds_llama_metadata_a_gpt2_vocabulary_and_the_tensor_types(folders):
    for kind, folder in folders.items():
        reader = gguf.GGUFReader(folder / GGUF_NAME)
        fields = reader.fields
        assert fields["general.architecture"].contents() == "llama"
        assert fields["llama.block_count"].contents() == TEXT_SIZES["num_hidden_layers"]
        assert fields["tokenizer.ggml.model"].contents() == "gpt2"
        tokens = fields["tokenizer.ggml.tokens"].contents()
        assert tokens[fields["tokenizer.ggml.eos_token_id"].contents()] == EOS_TOKEN
        assert "output.weight" not in {t.name for t in reader.tensors}  # tied, like SmolLM2
        types = {t.name: t.tensor_type for t in reader.tensors}
        assert types["output_norm.weight"] == gguf.GGMLQuantizationType.F32
        expected = QUANT_TYPE if kind == "q8_0" else gguf.GGMLQuantizationType.F32
        assert types["blk.0.attn_q.weight"] == expected
        assert types["token_embd.weight"] == expected


@pytest.mark.parametrize("kind", ["f32", "q8_0"])
def test_it_loads_as_a_llama_of_the_written_sizes(folders, kind):
    _, model = load(folders[kind])
    assert isinstance(model, LlamaForCausalLM)
    config = model.config
    for name, size in TEXT_SIZES.items():
        assert getattr(config, name) == size, name
    assert config.head_dim == TEXT_SIZES["hidden_size"] // TEXT_SIZES["num_attention_heads"]
    assert config.tie_word_embeddings
    assert config.vocab_size == model.get_input_embeddings().weight.shape[0] > 256
    assert config.rms_norm_eps == pytest.approx(1e-6)
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()


def test_f32_weights_and_logits_are_exactly_those_written(folders, reference):
    _, model = load(folders["f32"])
    loaded, written = model.state_dict(), reference.state_dict()
    assert loaded.keys() == written.keys()
    for name, weight in written.items():
        assert torch.equal(loaded[name], weight), name  # q/k survive the permutation round trip
    ids = torch.tensor([list(range(3, 40)), list(range(200, 237))])
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, reference(ids).logits, rtol=0, atol=1e-6)


def test_q8_0_weights_are_the_quantised_ones_and_the_logits_follow(folders, reference):
    _, model = load(folders["q8_0"])
    loaded, written = model.state_dict(), reference.state_dict()
    expected = {name: q8_round_trip(w) if w.ndim == 2 else w for name, w in written.items()}
    for name, weight in expected.items():
        assert torch.equal(loaded[name], weight), name
    assert not torch.equal(loaded["model.layers.0.self_attn.q_proj.weight"],
                           written["model.layers.0.self_attn.q_proj.weight"])
    quantised = tiny_llama(SEED)[0]
    quantised.load_state_dict(expected)
    ids = torch.tensor([list(range(3, 40))])
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, quantised(ids).logits, rtol=0, atol=1e-5)
        # and stays near the unquantised model
        assert (model(ids).logits - reference(ids).logits).abs().max() < 0.5


def test_the_tokenizer_round_trips_text_and_keeps_chatml(folders):
    tokenizer, _ = load(folders["f32"])
    for text in (SENTENCE, *CORPUS[:5], "naïve café, 42 °C"):
        ids = tokenizer(text)["input_ids"]
        assert tokenizer.decode(ids) == text
    assert len(tokenizer(CORPUS[0])["input_ids"]) < len(CORPUS[0]) / 2  # the merges are used
    assert tokenizer(SENTENCE)["input_ids"][0] != tokenizer.bos_token_id  # no BOS added
    assert tokenizer.eos_token == EOS_TOKEN == IM_END
    assert tokenizer.bos_token == BOS_TOKEN and tokenizer.pad_token == PAD_TOKEN
    assert tokenizer.eos_token_id == tokenizer.convert_tokens_to_ids(IM_END)

    messages = [{"role": "user", "content": "Describe the light."}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert prompt == f"{IM_START}user\nDescribe the light.{IM_END}\n{IM_START}assistant\n"
    ids = tokenizer(prompt)["input_ids"]
    start, end = (tokenizer.convert_tokens_to_ids(t) for t in (IM_START, IM_END))
    assert ids[0] == start and ids.count(start) == 2 and ids.count(end) == 1  # kept whole
    assert tokenizer.decode(ids) == prompt
    plain = tokenizer.decode(ids, skip_special_tokens=True)
    assert plain == "user\nDescribe the light.\nassistant\n"


@pytest.mark.parametrize("kind", ["f32", "q8_0"])
def test_generate_writes_new_tokens(folders, kind):
    tokenizer, model = load(folders[kind])
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Hello"}],
                                           tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=8, min_new_tokens=8, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    new = out[0, inputs["input_ids"].shape[1]:]
    assert len(new) == 8
    assert isinstance(tokenizer.decode(new), str)


def test_the_app_loads_it_and_streams_text(folders):
    folder = folders["q8_0"]
    assert model_kind(folder) == TEXT
    try:
        lm = load_language_model(folder, device="cpu")
        assert isinstance(lm.model, LlamaForCausalLM) and lm.dtype == "float32"
        prompt = render_prompt(lm, [{"role": "user", "content": "Describe the light."}])
        settings = GenerationSettings(max_new_tokens=10, min_new_tokens=10,
                                      sentence_end_after=None)
        text = "".join(stream_generate(lm.model, lm.tokenizer, model_inputs(lm, prompt, None),
                                       settings))
        assert text.strip()
    finally:
        unload_all()
