"""Training-memory estimates: exact bookkeeping, measured activations, the critic VLMs."""

from __future__ import annotations

import json
import socket

import pytest
import torch
from torch import nn

from train.memory import (
    CUDA_WORKSPACE_BYTES,
    DEFAULT_CRITIC,
    KNOWN_VLMS,
    MemoryEstimate,
    build_meta_model,
    critic_memory_table,
    estimate_critic_memory,
    estimate_training_memory,
    measure_activations,
)

GiB = 1024**3


def saved_bytes_on_cpu(model: nn.Module, *inputs: torch.Tensor) -> int:
    """What a real CPU forward pass saves for backward: each storage once, weights excluded."""
    weights = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    storages: dict[int, int] = {}

    def pack(tensor):
        pointer = tensor.untyped_storage().data_ptr()
        if pointer not in weights:
            storages[pointer] = tensor.untyped_storage().nbytes()
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(*inputs)
    return sum(storages.values())


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )


def small_mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, 256),
        nn.GELU(),
        nn.Dropout(0.1),
        nn.Linear(256, 256),
        nn.GELU(),
        nn.Linear(256, 10),
    )


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, 4 * width)
        self.down = nn.Linear(4 * width, width)

    def forward(self, x):
        return x + self.down(torch.relu(self.up(self.norm(x))))


class Tower(nn.Module):
    """A stack of identical blocks in a ModuleList, as a transformer has."""

    def __init__(self, width: int = 32, depth: int = 8) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(ResidualBlock(width) for _ in range(depth))
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def test_parameter_gradient_and_optimizer_bytes_are_exact():
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    model[0].requires_grad_(False)  # frozen: costs its weights only
    estimate = estimate_training_memory(
        model, torch.zeros(1, 10), batch_size=1, amp=False, gradient_checkpointing=False
    )
    assert estimate.parameters == (10 * 20 + 20 + 20 * 5 + 5) * 4
    assert estimate.gradients == (20 * 5 + 5) * 4
    assert estimate.optimizer_states == 2 * estimate.gradients  # AdamW: exp_avg, exp_avg_sq
    assert estimate.workspace == CUDA_WORKSPACE_BYTES

    sgd = estimate_training_memory(
        model,
        torch.zeros(1, 10),
        batch_size=1,
        amp=False,
        gradient_checkpointing=False,
        optimizer="sgd",
    )
    assert sgd.optimizer_states == estimate.gradients
    with pytest.raises(ValueError, match="adamw"):
        estimate_training_memory(
            model,
            torch.zeros(1, 10),
            batch_size=1,
            amp=False,
            gradient_checkpointing=False,
            optimizer="lion",
        )


def test_buffers_and_half_precision_weights_count_at_their_dtype():
    model = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))
    model[0].half().requires_grad_(False)
    estimate = estimate_training_memory(
        model,
        torch.zeros(2, 8, dtype=torch.float16),
        batch_size=1,
        amp=False,
        gradient_checkpointing=False,
    )
    linear = (8 * 8 + 8) * 2
    batch_norm = (8 + 8) * 4 + (8 + 8) * 4 + 8  # weight, bias; running mean, var; count
    assert estimate.parameters == linear + batch_norm
    assert estimate.gradients == (8 + 8) * 4


@pytest.mark.parametrize(
    ("make", "shape"), [(small_cnn, (1, 3, 32, 32)), (small_mlp, (1, 64)), (Tower, (1, 16, 32))]
)
def test_activations_match_what_a_real_pass_saves(make, shape):
    torch.manual_seed(0)
    model = make()
    direct = saved_bytes_on_cpu(model, torch.randn(shape))
    estimate = estimate_training_memory(
        model, torch.randn(shape), batch_size=1, amp=False, gradient_checkpointing=False
    )
    assert direct / 1.5 <= estimate.activations <= direct * 1.5
    assert measure_activations(model, torch.randn(shape), amp=False).device == "meta"


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_a_transformers_language_model_on_meta_matches_a_real_pass(attention):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=500,
    )
    model = LlamaForCausalLM(config)
    model.set_attn_implementation(attention)
    ids = torch.randint(0, 500, (1, 64))

    class WithLoss(nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, ids):
            return self.model(input_ids=ids, labels=ids).loss

    direct = saved_bytes_on_cpu(WithLoss(model), ids)
    inputs = {"input_ids": ids, "labels": ids}
    plain, checkpointed = (
        estimate_training_memory(
            model, inputs, batch_size=1, amp=False, gradient_checkpointing=flag
        )
        for flag in (False, True)
    )
    assert direct / 1.5 <= plain.activations <= direct * 1.5
    assert checkpointed.activations < plain.activations
    assert plain.notes == ()  # measured on meta


def test_activations_grow_with_the_batch():
    model = small_cnn()
    one, four = (
        estimate_training_memory(
            model, torch.zeros(1, 3, 32, 32), batch_size=b, amp=False, gradient_checkpointing=False
        )
        for b in (1, 4)
    )
    assert four.activations == 4 * one.activations
    assert four.transient == 4 * one.transient
    assert four.parameters == one.parameters


def test_autocast_saves_about_half():
    model = small_cnn()
    full = estimate_training_memory(
        model, torch.zeros(1, 3, 64, 64), batch_size=8, amp=False, gradient_checkpointing=False
    )
    half = estimate_training_memory(
        model, torch.zeros(1, 3, 64, 64), batch_size=8, amp=True, gradient_checkpointing=False
    )
    assert 0.4 * full.activations <= half.activations <= 0.75 * full.activations
    assert half.notes == ()  # autocast imitated on meta, not approximated


def test_gradient_checkpointing_lowers_the_estimate():
    model = Tower(width=32, depth=8)
    sample = torch.zeros(1, 64, 32)
    plain, checkpointed = (
        estimate_training_memory(
            model, sample, batch_size=2, amp=False, gradient_checkpointing=flag
        )
        for flag in (False, True)
    )
    assert checkpointed.activations < plain.activations / 3
    assert checkpointed.parameters == plain.parameters


def test_loss_fn_adds_the_losss_saved_tensors():
    model = small_mlp()
    without = estimate_training_memory(
        model, torch.zeros(1, 64), batch_size=1, amp=True, gradient_checkpointing=False
    )
    target = torch.zeros(1, dtype=torch.long)
    with_loss = estimate_training_memory(
        model,
        torch.zeros(1, 64),
        batch_size=1,
        amp=True,
        gradient_checkpointing=False,
        loss_fn=lambda logits: nn.functional.cross_entropy(logits, target.to(logits.device)),
    )
    assert with_loss.activations > without.activations


def test_data_dependent_models_fall_back_to_a_real_pass():
    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(8, 16), nn.Linear(16, 4)
            self.norm = nn.BatchNorm1d(16)

        def forward(self, x):
            kept = x[x.sum(-1) > 0]  # a shape that depends on the values
            return self.b(torch.relu(self.norm(self.a(kept))))

    model = Masked()
    x = torch.ones(1, 6, 8)
    estimate = estimate_training_memory(
        model, x, batch_size=1, amp=False, gradient_checkpointing=False
    )
    # The real pass leaves no trace in the model's running statistics.
    assert torch.equal(model.norm.running_mean, torch.zeros(16))
    assert model.norm.num_batches_tracked.item() == 0
    assert estimate.activations == saved_bytes_on_cpu(model, x)
    assert "activations measured with a real pass on cpu" in estimate.notes
    halved = estimate_training_memory(
        model, x, batch_size=1, amp=True, gradient_checkpointing=False
    )
    assert any("half size" in note for note in halved.notes)


def test_measuring_leaves_the_model_as_it_was():
    model = small_mlp().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    estimate_training_memory(
        model, torch.zeros(1, 64), batch_size=1, amp=True, gradient_checkpointing=True
    )
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert not model._forward_hooks and not model._forward_pre_hooks


def test_fits_describe_and_to_dict():
    estimate = MemoryEstimate(
        parameters=GiB,
        gradients=GiB // 2,
        optimizer_states=GiB,
        activations=2 * GiB,
        transient=GiB // 2,
        workspace=GiB,
        notes=("a note",),
    )
    assert estimate.total == 6 * GiB
    assert estimate.fits(6 * GiB) and estimate.fits(11 * GiB) and estimate.fits(None)
    assert not estimate.fits(6 * GiB - 1)

    text = estimate.describe(11 * GiB)
    assert "activations" in text and "6.00 GiB" in text and "fits in 11.00 GiB" in text
    assert "note: a note" in text
    assert "does NOT fit" in estimate.describe(4 * GiB)

    record = json.loads(json.dumps(estimate.to_dict()))
    assert record["total"] == 6 * GiB and record["notes"] == ["a note"]


# -- the critic VLMs -------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a meta-device build tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize("name", list(KNOWN_VLMS))
def test_known_vlms_have_their_published_sizes(name, no_network):
    model = build_meta_model(name)
    parameters = list(model.parameters())
    assert all(p.device.type == "meta" for p in parameters)  # no weights were loaded
    count = sum(p.numel() for p in parameters)
    published = KNOWN_VLMS[name].published_parameters
    assert abs(count - published) <= 0.1 * published, f"{name}: {count:,} parameters"


def test_tokens_per_tile():
    assert KNOWN_VLMS["HuggingFaceTB/SmolVLM-256M-Instruct"].tokens_per_tile == 64
    assert KNOWN_VLMS["HuggingFaceTB/SmolVLM-Instruct"].tokens_per_tile == 81


@pytest.mark.slow
def test_default_critic_fits_a_2080_ti(no_network):
    rows = critic_memory_table(11 * GiB, models=[DEFAULT_CRITIC], batch_sizes=(1, 4))
    assert [row["batch_size"] for row in rows] == [1, 4]
    assert all(row["fits"] for row in rows)
    one, four = rows
    assert one["gradients"] == four["gradients"] > 0  # LoRA only
    assert one["gradients"] < one["parameters"] / 20
    assert four["activations"] > 3 * one["activations"]
    assert one["image_tokens"] == 13 * 64
    json.dumps(rows)


@pytest.mark.slow
def test_checkpointing_and_autocast_shrink_the_critic(no_network):
    kwargs = {"lora_rank": 8, "seq_len": 128, "image_tokens": 64, "batch_size": 2}
    lean = estimate_critic_memory(DEFAULT_CRITIC, amp=True, gradient_checkpointing=True, **kwargs)
    full = estimate_critic_memory(DEFAULT_CRITIC, amp=True, gradient_checkpointing=False, **kwargs)
    fp32 = estimate_critic_memory(DEFAULT_CRITIC, amp=False, gradient_checkpointing=False, **kwargs)
    assert lean.activations < full.activations / 2
    assert full.activations < fp32.activations
    assert full.parameters < fp32.parameters  # frozen weights in fp16 under autocast


def test_critic_from_a_local_config_folder(tmp_path, no_network):
    from transformers import LlamaConfig

    LlamaConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=1000,
    ).save_pretrained(tmp_path)
    estimate = estimate_critic_memory(tmp_path, lora_rank=4, seq_len=32, image_tokens=0)
    assert estimate.gradients > 0 and estimate.activations > 0


def test_unknown_critic_names_list_the_known_ones():
    with pytest.raises(ValueError, match="SmolVLM-256M-Instruct"):
        estimate_critic_memory("someone/NotAModel")
