"""Tiny, randomly initialised language models built in-process, for offline tests.

Each factory trains a byte-level BPE tokenizer (in milliseconds) on a small built-in
corpus, builds a model of 60-90 thousand parameters and saves both with
``save_pretrained``, so the app's loading and streaming code can run through
transformers' Auto classes without a model hub. The models talk nonsense: they
exist to exercise plumbing (loading, chat templates, generation, adapters).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    CLIPImageProcessor,
    CLIPVisionConfig,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    PreTrainedTokenizerFast,
)

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
EOS = "<|endoftext|>"
IMAGE_TOKEN = "<image>"
SPECIAL_TOKENS = (EOS, IM_START, IM_END)

# The vision tower sees 32 x 32 pixels in 8 x 8 patches: 16 patch features (the CLS
# feature is dropped by the "default" strategy), so 16 image tokens per image.
VLM_IMAGE_SIZE = 32
VLM_PATCH_SIZE = 8
VLM_IMAGE_TOKENS = (VLM_IMAGE_SIZE // VLM_PATCH_SIZE) ** 2

TEXT_SIZES = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, intermediate_size=64, max_position_embeddings=4096)

CORPUS = (
    "The light falls softly across the frame and warms the colour of the sky.",
    "Strong composition: the horizon sits on the lower third and the subject on the right.",
    "The colours are muted, a cool blue cast that suggests sadness and quiet.",
    "Golden hour light gives the portrait a sense of contentment and calm.",
    "The towering mountains and the tiny figure inspire awe.",
    "Harsh shadows and a dark alley create a feeling of fear and tension.",
    "A dog in a hat jumping into a puddle is pure amusement.",
    "Motion blur and bright neon colours bring excitement to the street scene.",
    "Red tones and clenched fists convey anger.",
    "Rotting fruit in close focus provokes disgust.",
    "Overall the photo is excellent, with good sharpness and fair contrast.",
    "Exposure is poor: the highlights are clipped and the shadows are blocked.",
    "The white balance is bad and the skin tones look green.",
    "Score: excellent good fair poor bad.",
    "Rating 1 2 3 4 5 6 7 8 9 10, average 7.5 out of 10.",
    "The leading lines draw the eye from the foreground to the distant tower.",
    "Saturation is high; the reds and oranges glow against the teal water.",
    "A shallow depth of field isolates the flower from a creamy background.",
    "The image is slightly underexposed, so lift the shadows by one stop.",
    "Symmetry and a centred subject give the building a calm, formal balance.",
    "Backlight creates a rim of light around the hair.",
    "The horizon is tilted by 2 degrees; straighten it before printing.",
    "Negative space on the left gives the bird room to fly.",
    "Grain and low contrast make the black and white print feel nostalgic.",
    "Emotion: awe, contentment, sadness, fear, amusement, excitement, anger, disgust.",
    "Crop tighter to remove the distracting sign in the corner.",
    "The colour palette is warm: yellow, orange, brown and gold.",
    "Soft window light models the face with gentle gradients.",
    "Sharpness is good in the centre but the corners are soft.",
    "The noise at ISO 6400 is visible in the dark areas.",
    "A fast shutter speed of 1/1000 freezes the splash.",
    "The rule of thirds, framing, balance and rhythm all work here.",
    "Highlights, midtones and shadows are well separated in the histogram.",
    "This photo shows a cat on a sofa by a bright window.",
    "Describe the image: a red rocket on a launch pad under a blue sky.",
    "What is good about this photograph, and what could be better?",
    "Critique: the subject is clear, the light is flat, the colour is fine.",
    "You are a helpful photography critic. Answer briefly.",
    "user assistant system",
    "0 1 2 3 4 5 6 7 8 9 0.1 0.25 0.5 0.75 100 % ( ) [ ] { } : ; , . ! ? - ' \"",
)


def chat_template(image_token: str | None = None) -> str:
    """A ChatML template; image parts become ``image_token`` (or nothing when None)."""
    image = f"{{{{ '{image_token}' }}}}" if image_token else ""
    return (
        "{%- for message in messages -%}"
        "{{ '" + IM_START + "' + message['role'] + '\\n' }}"
        "{%- if message['content'] is string -%}"
        "{{ message['content'] }}"
        "{%- else -%}"
        "{%- for part in message['content'] -%}"
        "{%- if part['type'] == 'text' -%}{{ part['text'] }}"
        "{%- elif part['type'] == 'image' -%}" + image +
        "{%- endif -%}"
        "{%- endfor -%}"
        "{%- endif -%}"
        "{{ '" + IM_END + "\\n' }}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{ '" + IM_START + "assistant\\n' }}{%- endif -%}"
    )


def train_tokenizer(folder: Path | None = None, *,
                    extra_special: Sequence[str] = ()) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on CORPUS, with a ChatML chat template.

    ``<|endoftext|>`` is both eos and pad; ``extra_special`` tokens (e.g. ``<image>``)
    are added as special tokens after the ChatML ones. Saved to ``folder`` if given.
    """
    extra = [token for token in extra_special if token not in SPECIAL_TOKENS]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=640, min_frequency=1, show_progress=False,
        special_tokens=[*SPECIAL_TOKENS, *extra],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    backend.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token=EOS, pad_token=EOS,
        extra_special_tokens=[IM_START, IM_END, *extra],
        model_max_length=TEXT_SIZES["max_position_embeddings"],
    )
    tokenizer.chat_template = chat_template(IMAGE_TOKEN if IMAGE_TOKEN in extra else None)
    if folder is not None:
        tokenizer.save_pretrained(folder)
    return tokenizer


def _text_config(tokenizer: PreTrainedTokenizerFast, **sizes) -> LlamaConfig:
    return LlamaConfig(vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id,
                       pad_token_id=tokenizer.pad_token_id, bos_token_id=None,
                       tie_word_embeddings=False, **{**TEXT_SIZES, **sizes})


def _generation_config(tokenizer: PreTrainedTokenizerFast) -> GenerationConfig:
    eos = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(IM_END)]
    return GenerationConfig(eos_token_id=eos, pad_token_id=tokenizer.pad_token_id,
                            do_sample=False)


def save_tiny_causal_lm(folder: Path, *, seed: int = 0, never_stop: bool = False,
                        **sizes) -> Path:
    """A tiny Llama chat model and its tokenizer, loadable with AutoModelForCausalLM.

    ``never_stop`` suppresses its end tokens, so it writes until a limit or a cancel;
    ``sizes`` override the LlamaConfig sizes (a bigger model is a slower one).
    """
    folder = Path(folder)
    tokenizer = train_tokenizer()
    torch.manual_seed(seed)
    model = LlamaForCausalLM(_text_config(tokenizer, **sizes)).eval()
    model.generation_config = _generation_config(tokenizer)
    if never_stop:
        model.generation_config.suppress_tokens = list(model.generation_config.eos_token_id)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_vlm(folder: Path, *, seed: int = 0) -> Path:
    """A tiny LLaVA (CLIP vision tower + Llama) and its processor.

    Loadable with AutoModelForImageTextToText and AutoProcessor; the prompt gets one
    ``<image>`` per image from the chat template, which the processor expands to
    VLM_IMAGE_TOKENS tokens to match the vision tower's patch features.
    """
    folder = Path(folder)
    tokenizer = train_tokenizer(extra_special=[IMAGE_TOKEN])
    image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    vision = CLIPVisionConfig(image_size=VLM_IMAGE_SIZE, patch_size=VLM_PATCH_SIZE,
                              hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, projection_dim=32)
    config = LlavaConfig(vision_config=vision, text_config=_text_config(tokenizer),
                         image_token_index=image_token_id, image_seq_length=VLM_IMAGE_TOKENS,
                         vision_feature_select_strategy="default", vision_feature_layer=-2,
                         tie_word_embeddings=False)
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.eos_token_id
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config = _generation_config(tokenizer)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": VLM_IMAGE_SIZE},
        crop_size={"height": VLM_IMAGE_SIZE, "width": VLM_IMAGE_SIZE},
    )
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=VLM_PATCH_SIZE,
        vision_feature_select_strategy="default", num_additional_image_tokens=1,
        image_token=IMAGE_TOKEN, chat_template=chat_template(IMAGE_TOKEN),
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


LORA_TARGETS = {
    "causal": ["q_proj", "v_proj"],
    # Only the language model's attention (LLaVA: language_model, Idefics3: text_model);
    # the vision tower has q_proj / v_proj too.
    "vlm": r".*(language_model|text_model).*\.(q_proj|v_proj)",
}


def save_tiny_lora_adapter(base_folder: Path, adapter_folder: Path, *, kind: str = "causal",
                           seed: int = 1, scale: float = 0.5) -> Path:
    """A LoRA adapter (r=4) on the language model's q_proj / v_proj of a tiny base.

    The B matrices get random normal * ``scale`` values instead of peft's zeros, so
    loading the adapter really changes the base model's outputs.
    """
    from peft import LoraConfig, get_peft_model
    from peft.tuners.lora import LoraLayer
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    if kind not in LORA_TARGETS:
        raise ValueError(f"kind must be one of {sorted(LORA_TARGETS)}, not {kind!r}")
    auto = AutoModelForCausalLM if kind == "causal" else AutoModelForImageTextToText
    base = auto.from_pretrained(base_folder)
    config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                        target_modules=LORA_TARGETS[kind], task_type="CAUSAL_LM")
    with warnings.catch_warnings():
        # peft 0.21 still asks transformers 5 for the deprecated is_gradient_checkpointing.
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated",
                                FutureWarning)
        model = get_peft_model(base, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LoraLayer):
                weight = module.lora_B["default"].weight
                weight.copy_(torch.randn(weight.shape, generator=generator) * scale)
    adapter_folder = Path(adapter_folder)
    model.save_pretrained(adapter_folder)
    return adapter_folder


# Idefics3 (SmolVLM's architecture): 32 px tiles in 8 px patches, pixel-shuffled by 2,
# give 4 image tokens per tile; photos up to 64 px are split into at most 2 x 2 tiles
# plus a global view.
IDEFICS3_TILE = 32
IDEFICS3_PATCH = 8
IDEFICS3_SCALE = 2
IDEFICS3_IMAGE_SEQ_LEN = (IDEFICS3_TILE // IDEFICS3_PATCH) ** 2 // IDEFICS3_SCALE**2
END_OF_UTTERANCE = "<end_of_utterance>"
IDEFICS3_SPECIAL = (
    "<fake_token_around_image>", IMAGE_TOKEN, END_OF_UTTERANCE, "<global-img>",
    *(f"<row_{row}_col_{col}>" for row in range(1, 7) for col in range(1, 7)),
)


def smolvlm_chat_template() -> str:
    """SmolVLM's template: ``<|im_start|>User:<image>text<end_of_utterance>\\nAssistant:``."""
    return (
        "<|im_start|>{%- for message in messages -%}"
        "{{ message['role'] | capitalize }}"
        "{%- if message['content'] is string -%}{{ ': ' + message['content'] }}"
        "{%- else -%}"
        "{%- if message['content'][0]['type'] == 'image' -%}{{ ':' }}{%- else -%}{{ ': ' }}"
        "{%- endif -%}"
        "{%- for part in message['content'] -%}"
        "{%- if part['type'] == 'text' -%}{{ part['text'] }}"
        "{%- elif part['type'] == 'image' -%}{{ '" + IMAGE_TOKEN + "' }}"
        "{%- endif -%}"
        "{%- endfor -%}"
        "{%- endif -%}"
        "{{ '" + END_OF_UTTERANCE + "\\n' }}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{ 'Assistant:' }}{%- endif -%}"
    )


def save_tiny_idefics3(folder: Path, *, seed: int = 0) -> Path:
    """A tiny Idefics3 (SmolVLM's architecture) and its processor, with image splitting."""
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
        Idefics3VisionConfig,
    )

    folder = Path(folder)
    tokenizer = train_tokenizer(extra_special=IDEFICS3_SPECIAL)
    tokenizer.chat_template = smolvlm_chat_template()
    vision = Idefics3VisionConfig(image_size=IDEFICS3_TILE, patch_size=IDEFICS3_PATCH,
                                  hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                  num_attention_heads=4)
    config = Idefics3Config(vision_config=vision, text_config=_text_config(tokenizer),
                            image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
                            scale_factor=IDEFICS3_SCALE, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = Idefics3ForConditionalGeneration(config).eval()
    generation = _generation_config(tokenizer)
    generation.eos_token_id = [tokenizer.convert_tokens_to_ids(END_OF_UTTERANCE),
                               tokenizer.eos_token_id]
    model.generation_config = generation
    image_processor = Idefics3ImageProcessor(
        size={"longest_edge": 2 * IDEFICS3_TILE},
        max_image_size={"longest_edge": IDEFICS3_TILE},
        do_image_splitting=True,
    )
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer,
                                  image_seq_len=IDEFICS3_IMAGE_SEQ_LEN,
                                  chat_template=smolvlm_chat_template())
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
