"""Hardware profiles: a faked 2080 Ti, a faked A100, and this machine's CPU."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from critique_app.core.util.errors import CritiqueError
from train.hardware import (
    RTX_2080_TI_MEMORY,
    GpuInfo,
    Hardware,
    HardwareError,
    apply_memory_cap,
    detect_gpu,
    resolve_hardware,
)

GiB = 1024**3
RTX_2080_TI = ("NVIDIA GeForce RTX 2080 Ti", (7, 5), 11_554_717_696)  # what the driver reports
A100 = ("NVIDIA A100-SXM4-40GB", (8, 0), 40 * GiB)
T4 = ("Tesla T4", (7, 5), 15 * GiB)


@pytest.fixture
def fake_gpu(monkeypatch):
    """Make torch.cuda report one card; returns the calls to set_per_process_memory_fraction."""
    fractions = []

    def install(card):
        name, capability, total = card
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=0: capability)
        monkeypatch.setattr(
            torch.cuda,
            "get_device_properties",
            lambda index=0: SimpleNamespace(name=name, total_memory=total),
        )
        monkeypatch.setattr(
            torch.cuda,
            "set_per_process_memory_fraction",
            lambda fraction, device=None: fractions.append((fraction, device)),
        )
        return fractions

    return install


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_auto_on_a_2080_ti_is_the_2080ti_profile_in_fp16(fake_gpu):
    fake_gpu(RTX_2080_TI)
    hardware = resolve_hardware()
    assert hardware.profile == "2080ti"
    assert hardware.device == "cuda"
    assert hardware.amp_dtype is torch.float16
    assert hardware.use_grad_scaler
    assert hardware.gradient_checkpointing
    # The card reports slightly less than 11 GiB: the limit is what it really has.
    assert hardware.memory_limit_bytes == RTX_2080_TI[2]
    assert hardware.gpu == GpuInfo("NVIDIA GeForce RTX 2080 Ti", (7, 5), RTX_2080_TI[2])


def test_bf16_on_a_2080_ti_is_refused_in_one_line(fake_gpu):
    fake_gpu(RTX_2080_TI)
    with pytest.raises(HardwareError) as error:
        resolve_hardware(profile="cuda", precision="bf16")
    message = str(error.value)
    assert "\n" not in message
    assert message == (
        "bf16 needs compute capability 8.0 or newer; this NVIDIA GeForce RTX 2080 Ti "
        "has 7.5: use --precision fp16"
    )
    assert isinstance(error.value, CritiqueError)


def test_bf16_under_the_2080ti_profile_is_refused_even_on_a_newer_card(fake_gpu):
    fake_gpu(A100)
    with pytest.raises(HardwareError, match="--precision fp16"):
        resolve_hardware(profile="2080ti", precision="bf16")


def test_other_turing_cards_also_get_fp16_and_their_whole_memory(fake_gpu):
    fake_gpu(T4)
    hardware = resolve_hardware()
    assert (hardware.profile, hardware.precision) == ("cuda", "fp16")
    assert hardware.memory_limit_bytes == 15 * GiB
    assert hardware.gradient_checkpointing  # under 16 GiB
    with pytest.raises(HardwareError, match=r"has 7\.5"):
        resolve_hardware(precision="bf16")


def test_a100_uses_fp16_unless_bf16_is_asked_for(fake_gpu):
    fake_gpu(A100)
    automatic = resolve_hardware()
    assert (automatic.profile, automatic.precision) == ("cuda", "fp16")
    assert automatic.use_grad_scaler
    assert not automatic.gradient_checkpointing
    assert automatic.memory_limit_bytes == 40 * GiB

    bf16 = resolve_hardware(precision="bf16")
    assert bf16.amp_dtype is torch.bfloat16
    assert not bf16.use_grad_scaler  # bf16 has fp32's exponent range

    fp32 = resolve_hardware(precision="fp32", gradient_checkpointing=True)
    assert fp32.amp_dtype is None and not fp32.use_grad_scaler
    assert fp32.gradient_checkpointing


def test_2080ti_profile_on_a_big_card_caps_memory_at_11_gib(fake_gpu):
    fractions = fake_gpu(A100)
    hardware = resolve_hardware(profile="2080ti")
    assert hardware.profile == "2080ti" and hardware.precision == "fp16"
    assert hardware.memory_limit_bytes == RTX_2080_TI_MEMORY == 11 * GiB
    assert fractions == []  # resolving changes nothing; the trainer applies the cap

    fraction = apply_memory_cap(hardware)
    assert fraction == pytest.approx(11 / 40)
    assert fractions == [(pytest.approx(11 / 40), 0)]


def test_memory_cap_is_a_no_op_when_the_limit_is_the_whole_card(fake_gpu):
    fractions = fake_gpu(RTX_2080_TI)
    assert apply_memory_cap(resolve_hardware()) is None
    assert apply_memory_cap(resolve_hardware(profile="cpu")) is None
    assert fractions == []


def test_cpu_is_fp32_without_a_scaler(no_gpu):
    hardware = resolve_hardware()
    assert hardware == Hardware(
        profile="cpu",
        device="cpu",
        amp_dtype=None,
        use_grad_scaler=False,
        gradient_checkpointing=False,
        memory_limit_bytes=None,
        gpu=None,
    )
    assert detect_gpu() is None


def test_gpu_profiles_without_cuda_suggest_the_cpu_profile(no_gpu):
    for profile in ("2080ti", "cuda"):
        with pytest.raises(HardwareError, match="use --profile cpu"):
            resolve_hardware(profile=profile)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precision_on_the_cpu_is_refused(precision, fake_gpu):
    fake_gpu(A100)  # even with a GPU present, --profile cpu means the CPU
    with pytest.raises(HardwareError, match="use --precision fp32"):
        resolve_hardware(profile="cpu", precision=precision)


def test_unknown_choices_list_the_valid_ones(no_gpu):
    with pytest.raises(HardwareError, match="2080ti"):
        resolve_hardware(profile="3090")
    with pytest.raises(HardwareError, match="bf16"):
        resolve_hardware(precision="int8")


def test_cpu_autocast_and_scaler_pass_straight_through(no_gpu):
    hardware = resolve_hardware(profile="cpu")
    layer = torch.nn.Linear(4, 2)
    with hardware.autocast():
        out = layer(torch.ones(1, 4))
    assert out.dtype is torch.float32

    scaler = hardware.grad_scaler()
    assert not scaler.is_enabled()
    loss = out.sum()
    assert scaler.scale(loss) is loss


def test_fp16_hardware_gives_an_enabled_cuda_scaler_and_autocast(fake_gpu):
    fake_gpu(RTX_2080_TI)
    hardware = resolve_hardware()
    context = hardware.autocast()
    assert isinstance(context, torch.autocast)
    assert context.fast_dtype is torch.float16
    assert hardware.use_grad_scaler


def test_describe_and_to_dict(fake_gpu):
    fake_gpu(RTX_2080_TI)
    hardware = resolve_hardware()
    line = hardware.describe()
    assert "\n" not in line
    assert "2080ti: NVIDIA GeForce RTX 2080 Ti (compute capability 7.5" in line
    assert "fp16 autocast + GradScaler" in line

    record = hardware.to_dict()
    json.dumps(record)  # JSON-ready
    assert record["precision"] == "fp16"
    assert record["amp_dtype"] == "float16"
    assert record["gpu"]["compute_capability"] == "7.5"
    assert record["memory_limit_bytes"] == RTX_2080_TI[2]


def test_cpu_describe(no_gpu):
    assert resolve_hardware().describe() == "cpu: CPU, fp32, gradient checkpointing off"
