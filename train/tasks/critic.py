"""`critic`: LoRA fine-tuning of the critic's language model on critique text.

The base model (SmolVLM by default; any LLaVA-style VLM or causal LM the app
loads) stays frozen; peft LoRA adapters on the language model's attention and
MLP projections learn the answers (see :mod:`train.tasks.critic_data` for the
examples). The loss is the language-model loss on answer tokens only.

Two SEVLM-style options align the model with the row's emotion (both off by
default, both only on rows that have an ArtEmis category):

- VAD head: a linear layer on the mean of the last hidden states over the
  answer regresses the category's valence/arousal/dominance anchor (MSE);
- contrastive head: InfoNCE between a projection of the mean hidden state of
  the prompt (the photo's tokens and the question: what the model saw before
  answering) and learned embeddings of the nine categories, the row's own
  category being the positive.

Only the adapters and heads are trained and checkpointed: :class:`CriticTrainee`'s
state dict holds nothing else, so a checkpoint is megabytes, not the base model.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import re
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from critique_app.core.critic.chat import model_inputs
from critique_app.core.critic.generation import GenerationSettings
from critique_app.core.critic.loading import VLM, LanguageModel, model_kind
from critique_app.core.critic.sections import EMOTIONS
from critique_app.core.util.errors import CritiqueError, ModelError
from train.data.records import CritiqueRow
from train.metrics.text import text_metrics
from train.tasks.critic_data import (
    IGNORE,
    MIN_TARGET_TOKENS,
    CritiqueSamples,
    Example,
    GroundingCache,
    ImageTokenCounter,
    PadCollator,
    PromptMaker,
    build_examples,
    data_fingerprint,
)

CONTRASTIVE_DIM = 128
CONTRASTIVE_TEMPERATURE = 0.07
EMOTION_EVAL_LIMIT = 32  # held-out emotion rows scored the app's way, per evaluation
EVAL_BATCH = 4


@dataclass
class CriticOptions:
    persona: str | None = None  # train on this persona's rows only, speaking as it
    sections: tuple[str, ...] = ()  # () : every section the data has
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    max_length: int = 2048
    vad_weight: float = 0.0
    contrastive_weight: float = 0.0
    eval_examples: int = 8  # held-out answers generated and scored per evaluation
    eval_new_tokens: int = 48


@dataclass
class BaseModel:
    """The frozen model LoRA is trained on, as loaded for training."""

    name: str  # what the app calls it: the store name, or the folder's name
    folder: Path
    kind: str  # VLM or TEXT
    model: nn.Module
    processor: object  # a VLM's processor, or a text model's tokenizer

    def facade(self, model: nn.Module, device) -> LanguageModel:
        """The app's view of ``model``, so its prompt and input code can be reused."""
        dtype = str(next(model.parameters()).dtype).replace("torch.", "")
        return LanguageModel(self.name, self.kind, model, self.processor, str(device), dtype)


def find_base(model: str) -> tuple[str, Path]:
    """(app name, folder) of a base model given as a folder or an installed store name."""
    from critique_app.core.critic.loading import find_language_model
    from critique_app.core.store.store import ModelStore

    found = find_language_model(ModelStore(), model)
    assert found is not None  # a name always resolves or raises
    return found


def _quiet_library_warnings() -> None:
    """Warnings that say nothing to a photographer: peft looks for a config.json a GGUF
    folder does not have (the vocabulary is unchanged, as it assumes), and transformers
    announces renames for v6."""
    import warnings

    warnings.filterwarnings("ignore", message="Could not find a config file",
                            module="peft")
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")


def load_base(model: str, hardware) -> BaseModel:
    """Full-precision weights; on a GPU with fp16/bf16 autocast the frozen weights may be
    held in that dtype (halving their memory), since they are never updated."""
    from critique_app.core.critic.loading import quiet_gguf_progress
    from critique_app.core.util.hf import LOCAL_ONLY, import_transformers

    transformers = import_transformers()
    quiet_gguf_progress()
    _quiet_library_warnings()
    name, folder = find_base(model)
    kind = model_kind(folder)
    dtype = hardware.amp_dtype if hardware.device == "cuda" and hardware.amp_dtype else \
        torch.float32
    try:
        if kind == VLM:
            processor = transformers.AutoProcessor.from_pretrained(folder, **LOCAL_ONLY)
            net = transformers.AutoModelForImageTextToText.from_pretrained(folder, dtype=dtype,
                                                                           **LOCAL_ONLY)
        else:
            gguf = sorted(folder.glob("*.gguf"))
            extra = {"gguf_file": gguf[0].name} if gguf else {}
            extra.update(LOCAL_ONLY)
            processor = transformers.AutoTokenizer.from_pretrained(folder, **extra)
            net = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, **extra)
    except (OSError, ValueError, KeyError, ImportError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelError(f"the base model in {folder} could not be loaded: {message}") from None
    net.requires_grad_(False)
    return BaseModel(name, folder, kind, net, processor)


def lora_target_pattern(model: nn.Module) -> str:
    """A peft regex for every linear layer inside the language model (attention and MLP
    projections), found from the model itself: the vision tower, connector and output
    head are left alone, whatever the architecture calls them."""
    decoder = model.get_decoder()
    prefix = next(name for name, module in model.named_modules() if module is decoder)
    leaves = sorted({name.rsplit(".", 1)[-1] for name, module in decoder.named_modules()
                     if isinstance(module, nn.Linear)})
    if not leaves:
        raise ModelError(f"{type(model).__name__}: no linear layers in its language model to "
                         "put LoRA adapters on")
    scope = re.escape(prefix) + r"\..*" if prefix else r".*"
    return scope + r"\.(" + "|".join(map(re.escape, leaves)) + ")"


class CriticTrainee(nn.Module):
    """The peft model plus the optional heads; ``forward(batch)`` returns the loss terms."""

    def __init__(self, peft_model: nn.Module, hidden: int, options: CriticOptions) -> None:
        super().__init__()
        self.lm = peft_model
        self.options = options
        self.vad_head = nn.Linear(hidden, 3) if options.vad_weight > 0 else None
        if options.contrastive_weight > 0:
            self.projection = nn.Linear(hidden, CONTRASTIVE_DIM)
            self.emotion_embedding = nn.Embedding(len(EMOTIONS), CONTRASTIVE_DIM)
        else:
            self.projection = self.emotion_embedding = None
        self._keep_param = "logits_to_keep" in inspect.signature(
            peft_model.get_base_model().forward).parameters

    # Checkpoints hold what training changes, not the frozen base model.
    def state_dict(self, *args, **kwargs):
        full = super().state_dict(*args, **kwargs)
        trainable = {name for name, p in self.named_parameters() if p.requires_grad}
        return type(full)((k, v) for k, v in full.items() if k in trainable)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        trainable = {name for name, p in self.named_parameters() if p.requires_grad}
        missing = sorted(trainable - set(state_dict))
        unexpected = sorted(set(state_dict) - trainable)
        if strict and (missing or unexpected):
            raise RuntimeError(f"checkpoint does not match the adapters: missing {missing[:3]}, "
                               f"unexpected {unexpected[:3]}")
        return super().load_state_dict(state_dict, strict=False, assign=assign)

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        batch = dict(batch)
        labels = batch.pop("labels")
        emotion, vad = batch.pop("target_emotion"), batch.pop("target_vad")
        targets = labels[:, 1:]  # position p predicts token p + 1
        answer = (targets != IGNORE).any(0).nonzero().flatten()
        first, last = (int(answer[0]), int(answer[-1])) if len(answer) else (0, -1)
        keep = torch.arange(first, last + 1, device=labels.device)  # logits needed only here
        extra = {"logits_to_keep": keep} if self._keep_param else {}
        need_hidden = self.vad_head is not None or self.projection is not None
        out = self.lm(**batch, use_cache=False, output_hidden_states=need_hidden, **extra)
        logits = out.logits if self._keep_param else out.logits[:, keep]
        wanted = targets[:, keep]
        token_loss = F.cross_entropy(logits.float().flatten(0, 1), wanted.flatten(),
                                     ignore_index=IGNORE, reduction="sum")
        tokens = (wanted != IGNORE).sum()
        terms = {"lm_loss": token_loss / tokens.clamp(min=1), "lm_sum": token_loss,
                 "tokens": tokens}
        total = terms["lm_loss"]
        if need_hidden:
            hidden = out.hidden_states[-1].float()
            has = emotion >= 0
            if self.vad_head is not None:
                pooled = _masked_mean(hidden, labels != IGNORE)
                predicted = torch.sigmoid(self.vad_head(pooled))
                terms["vad_loss"] = _masked_loss(((predicted - vad) ** 2).mean(-1), has)
                total = total + self.options.vad_weight * terms["vad_loss"]
            if self.projection is not None:
                prompt = (labels == IGNORE) & batch["attention_mask"].bool()
                image = F.normalize(self.projection(_masked_mean(hidden, prompt)), dim=-1)
                anchors = F.normalize(self.emotion_embedding.weight, dim=-1)
                similarity = image @ anchors.T / CONTRASTIVE_TEMPERATURE
                per_row = F.cross_entropy(similarity, emotion.clamp(min=0), reduction="none")
                terms["contrastive_loss"] = _masked_loss(per_row, has)
                total = total + self.options.contrastive_weight * terms["contrastive_loss"]
        terms["loss"] = total
        return terms


def _masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)


def _masked_loss(per_row: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over rows with an emotion; with none, a zero that still reaches the head
    (so every trainable parameter takes part in every step, as DDP requires)."""
    if mask.any():
        return per_row[mask].mean()
    return per_row.sum() * 0.0


class CriticTask:
    """The loop's view of critic training (see :class:`train.loop.TrainTask`)."""

    def __init__(self, base: BaseModel, train_rows: list[CritiqueRow],
                 val_rows: list[CritiqueRow], options: CriticOptions, hardware, *,
                 cache_path: Path | None = None, seed: int = 0, adapter: Path | None = None,
                 log=None, name: str = "critic") -> None:
        self.name, self.base, self.options, self.hardware = name, base, options, hardware
        self.log = log or (lambda message, level="info": print(message))
        self.sections = options.sections or _sections_in(train_rows or val_rows)
        self.skipped: list[str] = []
        torch.manual_seed(seed)  # LoRA's and the heads' initial weights
        self.model = self._wrap(base, adapter)
        # Prompts need the tokenizer, not the model: data-loading workers get no copy of it.
        lm = LanguageModel(base.name, base.kind, None, base.processor, "cpu", "float32")
        self.maker = PromptMaker(lm)
        groundings = GroundingCache(cache_path, labels=base.kind != VLM, image_tokens=(
            ImageTokenCounter(base.processor, lm) if base.kind == VLM else None))
        self.train_samples = self._samples(train_rows, groundings, "training")
        self.val_samples = self._samples(val_rows, groundings, "held-out")
        pad = lm.text_tokenizer.pad_token_id
        self.collate = PadCollator(pad if pad is not None else lm.text_tokenizer.eos_token_id)
        self.last_terms: dict[str, float] = {}
        self._fingerprint = {
            "task": name, "base": base.name, "data": data_fingerprint(
                self.train_samples.examples), **asdict(options), "sections": self.sections,
            "eval_examples": None}  # evaluation settings may change on resume

    # -- building ---------------------------------------------------------------------------
    def _wrap(self, base: BaseModel, adapter: Path | None) -> CriticTrainee:
        from peft import LoraConfig, PeftModel, get_peft_model

        net = base.model
        if hasattr(net, "peft_config"):  # peft changes the model in place
            raise ValueError("this base model already carries adapters; load it once per task")
        if self.hardware.gradient_checkpointing:
            net.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant":
                                                                             False})
            net.enable_input_require_grads()  # LoRA-only training: let gradients reach it
        with warnings.catch_warnings():
            # peft 0.21 still asks transformers 5 for the deprecated is_gradient_checkpointing
            warnings.filterwarnings("ignore", category=FutureWarning)
            if adapter is not None:
                peft_model = PeftModel.from_pretrained(net, adapter, is_trainable=False)
            else:
                o = self.options
                config = LoraConfig(r=o.lora_rank, lora_alpha=o.lora_alpha,
                                    lora_dropout=o.lora_dropout, task_type="CAUSAL_LM",
                                    target_modules=lora_target_pattern(net))
                peft_model = get_peft_model(net, config)  # adapter weights stay fp32
        text = net.config.get_text_config()
        return CriticTrainee(peft_model, int(text.hidden_size), self.options)

    def _samples(self, rows, groundings: GroundingCache, which: str) -> CritiqueSamples:
        examples, left_out = build_examples(rows, self.sections, self.base.kind,
                                            persona=self.options.persona)
        for reason, count in left_out.items():
            self.log(f"{which}: left out {count} × {reason}")
        failures = groundings.prepare([e.image for e in examples], self.log)
        first_line = {}
        for example in examples:
            first_line.setdefault(example.image, example.line)
        for image, message in failures.items():
            where = f"line {first_line[image]}: " if first_line.get(image) else ""
            self.skipped.append(where + message)
            self.log(f"skipped {self.skipped[-1]}", level="warning")
        examples = [e for e in examples if e.image not in failures]
        samples = CritiqueSamples(examples, self.maker, groundings, self.options.max_length)
        sizes = [samples.lengths(index) for index in range(len(examples))]
        fits = [prompt + MIN_TARGET_TOKENS <= self.options.max_length for prompt, _ in sizes]
        if not all(fits):
            self.log(f"{which}: left out {fits.count(False)} examples whose prompt alone leaves "
                     f"fewer than {MIN_TARGET_TOKENS} of --max-length {self.options.max_length} "
                     "tokens for the answer", level="warning")
        samples.examples = [e for e, keep in zip(examples, fits, strict=True) if keep]
        samples.sizes = [n for n, keep in zip(sizes, fits, strict=True) if keep]
        return samples

    def longest(self) -> int:
        """The longest training sequence (after truncation), for the memory estimate."""
        return max((min(sum(size), self.options.max_length)
                    for size in self.train_samples.sizes), default=0)

    # -- the loop's interface ---------------------------------------------------------------
    def parameter_groups(self) -> list[dict]:
        return [{"params": [p for p in self.model.parameters() if p.requires_grad]}]

    def train_set(self) -> CritiqueSamples:
        return self.train_samples

    def loss(self, model, batch, device) -> torch.Tensor:
        if batch is None:
            return torch.zeros((), device=device, requires_grad=True)
        terms = model(self._to(batch, device))
        self.last_terms = {k: float(v.detach()) for k, v in terms.items()}
        return terms["loss"]

    def fingerprint(self) -> dict:
        return self._fingerprint

    def _to(self, batch: dict, device) -> dict:
        dtype = next(self.base.model.parameters()).dtype  # photo tensors follow the weights
        return {k: v.to(device, dtype=dtype) if v.is_floating_point() and k != "target_vad"
                else v.to(device) for k, v in batch.items()}

    def evaluate(self, model, device, *, adapter: bool = True) -> dict[str, float]:
        """Held-out loss and perplexity, emotion accuracy read the app's way, and text
        metrics of a few greedy answers. ``adapter=False``: the base model's numbers."""
        if not len(self.val_samples):
            return {}
        was_training = model.training
        model.eval()
        switch = model.lm.disable_adapter() if not adapter else contextlib.nullcontext()
        with switch, torch.no_grad(), self.hardware.autocast():
            metrics = self._held_out_loss(model, device, heads=adapter)
            metrics.update(self._emotion_accuracy(model, device))
            metrics.update(self._generation_metrics(model, device))
        model.train(was_training)
        return metrics

    def _held_out_loss(self, model, device, *, heads: bool = True) -> dict[str, float]:
        sums: dict[str, float] = {}
        batches, samples = 0, self.val_samples
        for start in range(0, len(samples), EVAL_BATCH):
            end = min(len(samples), start + EVAL_BATCH)
            batch = self.collate([samples[i] for i in range(start, end)])
            terms = model(self._to(batch, device))
            batches += 1
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + float(value)
        loss = sums["lm_sum"] / max(1.0, sums["tokens"])
        metrics = {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}
        for key in ("vad_loss", "contrastive_loss"):
            if key in sums and heads:  # the base model has no trained heads to compare
                metrics[key] = sums[key] / batches
        return metrics

    def _emotion_accuracy(self, model, device) -> dict[str, float]:
        from critique_app.core.critic.choices import choice_probabilities

        samples = self.val_samples
        picks = [i for i, e in enumerate(samples.examples) if e.section == "emotion"]
        if not picks:
            return {}
        lm = self.base.facade(model.lm, device)
        right = 0
        for index in picks[:EMOTION_EVAL_LIMIT]:
            example = samples.examples[index]
            prompt, _ = samples.texts(index)
            inputs = model_inputs(lm, prompt, _pixels(example) if lm.kind == VLM else None)
            probabilities = choice_probabilities(lm, inputs, [f" {e}" for e in EMOTIONS])
            right += EMOTIONS[int(np.argmax(probabilities))] == example.emotion
        return {"emotion_accuracy": right / min(len(picks), EMOTION_EVAL_LIMIT)}

    def _generation_metrics(self, model, device) -> dict[str, float]:
        count = min(self.options.eval_examples, len(self.val_samples))
        if count <= 0:
            return {}
        picks = np.linspace(0, len(self.val_samples) - 1, count).round().astype(int)
        texts = self._answers(model, device, [int(i) for i in dict.fromkeys(picks)])
        predictions = [prediction for prediction, _ in texts]
        references = [[reference] for _, reference in texts]
        return {k: v for k, v in text_metrics(predictions, references).items() if k != "n"}

    def _answers(self, model, device, indices: list[int]) -> list[tuple[str, str]]:
        """(greedy answer, reference) for held-out examples, with the app's settings."""
        settings = GenerationSettings(max_new_tokens=self.options.eval_new_tokens,
                                      sentence_end_after=None)
        lm = self.base.facade(model.lm, device)
        tokenizer = lm.text_tokenizer
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
            tokenizer.eos_token_id
        out = []
        for index in indices:
            example = self.val_samples.examples[index]
            prompt, _ = self.val_samples.texts(index)
            inputs = model_inputs(lm, prompt, _pixels(example) if lm.kind == VLM else None)
            ids = model.lm.generate(**inputs, **settings.generate_kwargs(), use_cache=True,
                                    pad_token_id=pad)
            answer = tokenizer.decode(ids[0, inputs["input_ids"].shape[-1]:],
                                      skip_special_tokens=True)
            out.append((answer.strip(), example.target.strip()))
        return out


def _pixels(example: Example):
    from critique_app.core.photo import load_photo

    return load_photo(example.image).pixels


def _sections_in(rows: list[CritiqueRow]) -> tuple[str, ...]:
    from critique_app.core.critic.sections import SECTION_NAMES

    present = {s for row in rows for s, text in row.sections.items() if text}
    present |= {"emotion"} if any(row.emotion for row in rows) else set()
    return tuple(s for s in SECTION_NAMES if s in present)


def check_options(options: CriticOptions) -> None:
    """One-line errors for settings that cannot work."""
    if options.lora_rank < 1 or options.lora_alpha <= 0:
        raise CritiqueError("--lora-rank must be at least 1 and --lora-alpha above 0")
    if not 0 <= options.lora_dropout < 1:
        raise CritiqueError("--lora-dropout must be from 0 to below 1")
    if options.max_length < 4 * MIN_TARGET_TOKENS:
        raise CritiqueError(f"--max-length must be at least {4 * MIN_TARGET_TOKENS} tokens")
    if options.vad_weight < 0 or options.contrastive_weight < 0:
        raise CritiqueError("--vad-weight and --contrastive-weight cannot be negative")
    if options.eval_examples < 0:
        raise CritiqueError("--eval-examples cannot be negative")
