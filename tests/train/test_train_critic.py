"""The critic's LoRA fine-tuning on CPU with tiny random models (tests/helpers/tiny_lms.py) and
real photos: the app's prompts, masked labels, the loss going down, export into the
app's store, persona adapters, the SEVLM heads and exact resume."""

from __future__ import annotations

import dataclasses
import json
from argparse import Namespace
from pathlib import Path

import pytest
import torch

from critique_app.core.analysis.analyzer import analyze
from critique_app.core.critic import critics
from critique_app.core.critic.events import collect_text
from critique_app.core.critic.generation import GenerationSettings
from critique_app.core.critic.loading import find_adapter
from critique_app.core.critic.personas import BUILTIN_PERSONAS
from critique_app.core.critic.request import CritiqueRequest
from critique_app.core.critic.service import stream_critique
from critique_app.core.store.store import LOCAL_METADATA, ModelStore
from critique_app.core.util.errors import CritiqueError
from tests.helpers.photos import PHOTOS
from tests.helpers.tiny_lms import save_tiny_causal_lm, save_tiny_idefics3
from train.cli import main as train_main
from train.data.formats import load_dataset
from train.hardware import resolve_hardware
from train.loop import LoopSettings, fit
from train.parser import build_parser
from train.progress import Progress, read_events
from train.run_critic import log_memory_estimate
from train.run_critic import run as run_critic
from train.tasks.critic import CriticOptions, CriticTask, load_base
from train.tasks.critic_adapter import evaluate_adapter
from train.tasks.critic_data import IGNORE, MIN_TARGET_TOKENS, rows_for_persona
from train.tasks.persona_compare import compare_personas

pytestmark = [pytest.mark.slow,  # trains LoRA adapters on tiny language models
              pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.usefixtures("fresh_models")]
CPU = resolve_hardware("cpu")
QUICK = GenerationSettings(max_new_tokens=12, sentence_end_after=None)
QUIET = Namespace(log=lambda message, level="info": None)
CALM = {"description": "A quiet scene in soft light, calm and still.",
        "impression": "It feels calm, lonely and gentle.", "persona": "introvert",
        "emotion_label": "contentment", "explanation": "The soft light is calm.",
        "suggestions": "Wait for softer light on the left."}
LOUD = {"description": "A bright busy scene full of colour and energy!",
        "impression": "It feels loud, joyful and fast.", "persona": "extrovert+novice",
        "emotion_label": "excitement", "explanation": "Bright colours bring energy.",
        "suggestions": "Crop tighter around the action."}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from a second thread, and OpenMP threads spinning
    against a busy machine's other processes made this file ten times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-critics")
    return {"vlm": save_tiny_idefics3(root / "tiny-vlm"),
            "text": save_tiny_causal_lm(root / "tiny-text")}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Six real photos, half critiqued by an introvert, half by an extroverted novice."""
    path = tmp_path_factory.mktemp("critiques") / "critiques.jsonl"
    rows = [{"image": str(PHOTOS[name]), **(CALM if i % 2 == 0 else LOUD)}
            for i, name in enumerate(("chelsea", "coffee", "astronaut", "rocket", "camera",
                                      "china"))]
    path.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def rows(data):
    return load_dataset(data, kind="critique").rows


def critic_args(data: Path, out: Path, *extra: str):
    return build_parser().parse_args(["critic", "--data", str(data), "--out", str(out),
                                      "--profile", "cpu", "--val-fraction", "0.3",
                                      "--eval-examples", "2", *extra])


def task_for(folder: Path, rows, hardware=CPU, **options) -> CriticTask:
    """A task on a freshly loaded base (peft changes the model it wraps)."""
    return CriticTask(load_base(str(folder), hardware), rows, [], CriticOptions(**options),
                      hardware, log=QUIET.log)


def install(store: ModelStore, folder: Path, name: str, task: str) -> None:
    (folder / LOCAL_METADATA).write_text(json.dumps({
        "name": name, "task": task, "architecture": "test", "licence": "Apache-2.0",
        "trained_on": "nothing (random test weights)"}))
    store.import_dir(folder, report=lambda _: None)
    (folder / LOCAL_METADATA).unlink()


def critique(store: ModelStore, photo, persona: str) -> tuple[str, str]:
    """(description, notices) as the app writes them."""
    request = CritiqueRequest(sections=("description",), persona=BUILTIN_PERSONAS[persona],
                              generation=QUICK, vlm_score=False, device="cpu")
    events = list(stream_critique(photo, request, store=store))
    notices = " ".join(e.text for e in events if e.kind == "notice")
    return collect_text(events)["description"], notices


def test_examples_are_the_apps_own_prompts_with_only_the_answer_labelled(tiny, rows,
                                                                        monkeypatch):
    seen: list[str] = []
    real = critics.PhotoPrompts.inputs
    monkeypatch.setattr(critics.PhotoPrompts, "inputs",
                        lambda photo, prompt: seen.append(prompt) or real(photo, prompt))
    request = CritiqueRequest(sections=("description", "emotion"), model=str(tiny["vlm"]),
                              persona=BUILTIN_PERSONAS["introvert"], generation=QUICK,
                              vlm_score=False, device="cpu")
    list(stream_critique(analyze(PHOTOS["chelsea"]), request, store=ModelStore()))

    task = task_for(tiny["vlm"], rows[:1])
    samples = task.train_samples
    assert [e.section for e in samples.examples] == ["description", "impression", "emotion",
                                                     "suggestions"]
    tokenizer = task.base.processor.tokenizer
    for index, example in enumerate(samples.examples):
        prompt, answer = samples.texts(index)
        if example.section in ("description", "emotion"):
            assert prompt in seen  # word for word what the app asks at inference
        item = samples[index]
        answer_ids = item["labels"][item["labels"] != IGNORE]
        assert tokenizer.decode(answer_ids) == answer
        assert answer.endswith("<end_of_utterance>")
        assert (item["labels"][: -len(answer_ids)] == IGNORE).all()
        assert item["pixel_values"].dim() == 4  # the photo's tiles
    emotion = samples.texts(2)
    assert emotion[0].endswith("The photo evokes")
    assert emotion[1].startswith(" contentment, because the soft light is calm.")


def test_the_masked_loss_goes_down_and_the_base_stays_frozen(tiny, rows):
    hardware = resolve_hardware("cpu", gradient_checkpointing=True)
    task = task_for(tiny["vlm"], rows[:2], hardware, sections=("description",))
    batch = task.collate([task.train_samples[i] for i in range(2)])
    frozen = task.base.model.get_decoder().layers[0].self_attn.q_proj.base_layer.weight.clone()

    def loss() -> float:
        task.model.eval()
        with torch.no_grad():
            return float(task.loss(task.model, batch, torch.device("cpu")))

    before = loss()
    fit(task, LoopSettings(epochs=8, batch_size=2, lr=1e-2, weight_decay=0.0), hardware,
        Path(task.base.folder).parent / "loss-run", Progress())
    # A random tiny model's frozen head and final norm keep its logits near uniform
    # (ln 640 = 6.46), so the loss cannot fall far; it must fall clearly.
    assert loss() < before - 0.2
    assert torch.equal(frozen, task.base.model.get_decoder().layers[0].self_attn.q_proj
                       .base_layer.weight)


def test_a_trained_adapter_is_found_and_used_by_the_apps_critic(tiny, data, tmp_path):
    store = ModelStore()
    install(store, tiny["vlm"], "tiny-vlm", "critic")
    cat = analyze(PHOTOS["chelsea"])
    before, notices = critique(store, cat, "introvert")
    assert "adapter" not in notices

    out = tmp_path / "run"
    progress = Progress(json_path=out / "progress.jsonl")
    result = run_critic(critic_args(data, out, "--model", "tiny-vlm", "--persona", "introvert",
                                    "--epochs", "4", "--lr", "0.01"), CPU, progress)
    progress.close()
    model = Path(result["model_dir"])
    for name in ("adapter_config.json", "adapter_model.safetensors", LOCAL_METADATA,
                 "README.md", "metrics.json", "examples.json"):
        assert (model / name).is_file(), name
    assert {"loss", "perplexity", "bleu_4", "meteor", "rouge_l", "cider_d"} <= set(
        result["metrics"])
    assert result["baseline_metrics"]["loss"] > result["metrics"]["loss"]
    examples = json.loads((model / "examples.json").read_text())
    assert examples and "persona adapter" not in " ".join(examples[0]["notices"])
    assert "+ adapter" in " ".join(examples[0]["notices"])
    events = list(read_events((out / "progress.jsonl").read_text().splitlines()))
    assert events[0]["event"] == "validation"
    assert any("estimated peak GPU memory" in e.get("message", "") for e in events)

    store.import_dir(model, report=lambda _: None)
    assert find_adapter(store, "tiny-vlm", "introvert")[0] == "critic-introvert-run"
    assert find_adapter(store, "tiny-vlm", "extrovert") is None
    after, notices = critique(store, cat, "introvert")
    assert "persona adapter 'critic-introvert-run' applied for introvert" in notices
    assert after != before


def test_persona_filtering(tiny, rows, data, tmp_path):
    assert len(rows_for_persona(rows, "introvert")) == 3
    assert len(rows_for_persona(rows, "novice")) == 3  # "extrovert+novice" has both traits
    assert rows_for_persona(rows, None) == rows
    task = task_for(tiny["text"], rows_for_persona(rows, "novice"), persona="novice")
    assert {e.persona for e in task.train_samples.examples} == {"novice"}
    assert "without jargon" in task.train_samples.texts(0)[0]  # the persona's description

    mixed = task_for(tiny["text"], rows)
    # Rows speak as their persona when the app knows it; trait combinations as the critic.
    assert {e.persona for e in mixed.train_samples.examples} == {"introvert", "critic"}
    assert "suggestions" not in {e.section for e in mixed.train_samples.examples}
    assert "You cannot see the photo" in mixed.train_samples.texts(0)[0]

    with pytest.raises(CritiqueError, match="no rows by a 'art-experienced' annotator"):
        run_critic(critic_args(data, tmp_path, "--model", str(tiny["text"]), "--persona",
                               "art-experienced"), CPU, Progress())
    with pytest.raises(CritiqueError, match="takes a persona name"):
        run_critic(critic_args(data, tmp_path, "--persona", "someone who loves grain"), CPU,
                   Progress())


def test_vad_and_contrastive_heads_add_their_loss_terms(tiny, rows):
    task = task_for(tiny["text"], rows[:2], vad_weight=0.5, contrastive_weight=0.25)
    batch = task.collate([task.train_samples[i] for i in range(2)])
    terms = task.model(batch)
    expected = terms["lm_loss"] + 0.5 * terms["vad_loss"] + 0.25 * terms["contrastive_loss"]
    assert torch.allclose(terms["loss"], expected)
    terms["loss"].backward()
    for head in (task.model.vad_head, task.model.projection, task.model.emotion_embedding):
        assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0

    plain = task_for(tiny["text"], rows[:2])
    assert plain.model.vad_head is None and plain.model.projection is None
    assert set(plain.model(batch)) == {"loss", "lm_loss", "lm_sum", "tokens"}


def test_long_examples_lose_the_end_of_their_answer_never_their_prompt(tiny, rows):
    sizes = task_for(tiny["text"], rows[:3], sections=("description",)).train_samples.sizes
    (prompt, answer), limit = sizes[0], sizes[0][0] + MIN_TARGET_TOKENS + 1
    assert answer > MIN_TARGET_TOKENS + 1
    logged = []
    task = CriticTask(load_base(str(tiny["text"]), CPU), rows[:3], [],
                      CriticOptions(sections=("description",), max_length=limit), CPU,
                      log=lambda message, level="info": logged.append(message))
    dropped = sum(p + MIN_TARGET_TOKENS > limit for p, _ in sizes)
    assert len(task.train_samples) == len(sizes) - dropped
    assert any(f"left out {dropped} examples" in m for m in logged) == bool(dropped)
    item = task.train_samples[0]
    assert len(item["input_ids"]) == limit
    assert (item["labels"][:prompt] == IGNORE).all()
    assert (item["labels"][prompt:] != IGNORE).sum() == limit - prompt  # the answer's start


def test_frozen_weights_may_be_half_precision_while_adapters_stay_fp32(tiny, rows):
    base = load_base(str(tiny["text"]), CPU)
    base.model.half()  # what load_base does on a GPU under fp16 autocast
    task = CriticTask(base, rows[:1], [], CriticOptions(vad_weight=1.0), CPU, log=QUIET.log)
    parameters = list(task.model.parameters())
    assert {p.dtype for p in parameters if p.requires_grad} == {torch.float32}
    assert {p.dtype for p in parameters if not p.requires_grad} == {torch.float16}


def test_a_run_too_big_for_a_2080_ti_says_so_before_training(tiny, rows, tmp_path,
                                                              monkeypatch):
    from train import memory

    too_big = memory.MemoryEstimate(12 * 1024**3, 0, 0, 0, 0, 0)
    monkeypatch.setattr(memory, "estimate_critic_memory", lambda *args, **kwargs: too_big)
    progress = Progress(json_path=tmp_path / "progress.jsonl")
    log_memory_estimate(task_for(tiny["text"], rows[:1]), 4,
                        dataclasses.replace(CPU, profile="2080ti"), progress)
    progress.close()
    warnings = [e["message"] for e in read_events(
        (tmp_path / "progress.jsonl").read_text().splitlines()) if e.get("level") == "warning"]
    assert warnings and "more than an RTX 2080 Ti's 11 GB: lower --batch-size" in warnings[0]


def test_resume_gives_the_same_adapter_as_an_uninterrupted_run(tiny, rows, tmp_path):
    settings = LoopSettings(epochs=2, batch_size=2, lr=1e-2, seed=3)
    options = CriticOptions(sections=("description", "impression"), lora_dropout=0.2)

    def task():
        return CriticTask(load_base(str(tiny["text"]), CPU), rows[:4], [], options, CPU,
                          seed=3, log=QUIET.log)

    whole = task()
    fit(whole, settings, CPU, tmp_path / "whole", Progress())
    stopped = fit(task(), LoopSettings(**{**settings.__dict__, "max_steps": 3}), CPU,
                  tmp_path / "parts", Progress())
    assert stopped.stopped_early and stopped.steps == 3
    state = torch.load(tmp_path / "parts" / "checkpoint.pt", weights_only=False)
    assert state["model"] and all("lora_" in key for key in state["model"])  # no base weights
    resumed = task()
    fit(resumed, settings, CPU, tmp_path / "parts", Progress(), resume=True)
    expected, got = whole.model.state_dict(), resumed.model.state_dict()
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[key], got[key]) for key in expected)


def test_persona_adapters_are_compared_and_evaluated(tiny, data, rows, tmp_path, capsys):
    adapters = {}
    for persona in ("introvert", "novice"):
        result = run_critic(critic_args(data, tmp_path / persona, "--model", str(tiny["text"]),
                                        "--persona", persona, "--epochs", "3", "--lr", "0.02",
                                        "--sections", "description,impression"), CPU,
                            Progress())
        adapters[persona] = Path(result["model_dir"])
    compared = compare_personas(adapters["introvert"], adapters["novice"], rows,
                                max_new_tokens=8, limit=4)
    assert (compared["persona_a"], compared["persona_b"]) == ("introvert", "novice")
    assert len(compared["texts_a"]) == len(compared["texts_b"]) == 4
    assert compared["texts_a"] != compared["texts_b"]
    assert compared["tests"] and all(0 < t["p_value"] <= 1 for t in compared["tests"])

    metrics = evaluate_adapter(adapters["introvert"], Namespace(
        data=data, format=None, images=None, split="all", val_fraction=0.3, seed=0))
    assert metrics["examples"] == 6 and metrics["perplexity"] > 1

    # The same comparison from the command line.
    assert train_main(["compare-personas", str(adapters["introvert"]), str(adapters["novice"]),
                       "--data", str(data), "--limit", "4", "--max-new-tokens", "8",
                       "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["persona_b"] == "novice" and printed["tests"]
