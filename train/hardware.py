"""Which device and precision a fine-tuning run uses, decided once, up front.

Critique's fine-tuning targets one consumer GPU, an RTX 2080 Ti: 11 GB and
compute capability 7.5, so fp16 autocast with a GradScaler and *no* bf16 (bf16
kernels need compute capability 8.0). Small runs also work on the CPU in fp32.

:func:`resolve_hardware` turns the ``--profile`` / ``--precision`` /
``--gradient-checkpointing`` options into a frozen :class:`Hardware` that the
trainer consults everywhere (autocast, scaler, checkpointing, memory cap), and
that is written into metrics and model cards so a result says how it was made.
Impossible combinations (bf16 on a 2080 Ti, fp16 on the CPU, a GPU profile
without a GPU) fail here with one line that says what to do instead, before a
model is loaded.

Trainable parameters always stay fp32: autocast only lowers the precision of
the computation, and the GradScaler keeps small fp16 gradients from
underflowing to zero.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch

from critique_app.core.util.errors import CritiqueError

GiB = 1024**3
RTX_2080_TI_MEMORY = 11 * GiB  # the card's 11 GB; the cap a bigger card imitates
BF16_MIN_CAPABILITY = (8, 0)  # Ampere: the first generation with bf16 tensor cores
# Without a profile saying otherwise, cards smaller than this train with
# gradient checkpointing on (it trades ~30% more compute for much less memory).
CHECKPOINTING_BELOW = 16 * GiB

PROFILES = ("auto", "2080ti", "cuda", "cpu")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": None}


class HardwareError(CritiqueError):
    """The requested device or precision cannot work on this machine (one line)."""


@dataclass(frozen=True)
class GpuInfo:
    """What training needs to know about one CUDA device."""

    name: str
    compute_capability: tuple[int, int]
    total_memory: int  # bytes, as the driver reports them
    index: int = 0

    @property
    def supports_bf16(self) -> bool:
        return self.compute_capability >= BF16_MIN_CAPABILITY

    def to_dict(self) -> dict[str, Any]:
        major, minor = self.compute_capability
        return {
            "name": self.name,
            "compute_capability": f"{major}.{minor}",
            "total_memory_bytes": self.total_memory,
            "index": self.index,
        }


@dataclass(frozen=True)
class Hardware:
    """The device, precision and memory settings of one run."""

    profile: str  # "2080ti" | "cuda" | "cpu"
    device: str  # "cuda" | "cpu"
    amp_dtype: torch.dtype | None  # autocast dtype; None trains in plain fp32
    use_grad_scaler: bool  # fp16 only: bf16 and fp32 have fp32's exponent range
    gradient_checkpointing: bool
    memory_limit_bytes: int | None  # what the run may use on the GPU; None on CPU
    gpu: GpuInfo | None = None

    @property
    def precision(self) -> str:
        if self.amp_dtype is torch.float16:
            return "fp16"
        if self.amp_dtype is torch.bfloat16:
            return "bf16"
        return "fp32"

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context to run forward passes (and the loss) in.

        Backward runs outside it, as PyTorch recommends.
        """
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device, dtype=self.amp_dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A GradScaler, disabled unless training in fp16.

        A disabled scaler passes ``scale(loss)``, ``step(optimizer)`` and
        ``update()`` straight through, so the trainer has one code path for
        every precision.
        """
        return torch.amp.GradScaler(self.device, enabled=self.use_grad_scaler)

    def describe(self) -> str:
        """One line for logs and the terminal, e.g. what ``train`` prints first."""
        if self.gpu is None:
            where = "CPU"
        else:
            major, minor = self.gpu.compute_capability
            where = (
                f"{self.gpu.name} (compute capability {major}.{minor}, "
                f"{self.gpu.total_memory / GiB:.1f} GiB)"
            )
        precision = {
            "fp16": "fp16 autocast + GradScaler",
            "bf16": "bf16 autocast",
            "fp32": "fp32",
        }[self.precision]
        parts = [f"{self.profile}: {where}", precision]
        parts.append(f"gradient checkpointing {'on' if self.gradient_checkpointing else 'off'}")
        if self.memory_limit_bytes is not None:
            parts.append(f"memory limit {self.memory_limit_bytes / GiB:.1f} GiB")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values for progress events, metrics and model cards."""
        return {
            "profile": self.profile,
            "device": self.device,
            "precision": self.precision,
            "amp_dtype": None if self.amp_dtype is None else str(self.amp_dtype).split(".")[-1],
            "grad_scaler": self.use_grad_scaler,
            "gradient_checkpointing": self.gradient_checkpointing,
            "memory_limit_bytes": self.memory_limit_bytes,
            "gpu": None if self.gpu is None else self.gpu.to_dict(),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
        }


def detect_gpu(index: int = 0) -> GpuInfo | None:
    """The CUDA device ``index`` as torch sees it, or None without CUDA."""
    if not torch.cuda.is_available():
        return None
    properties = torch.cuda.get_device_properties(index)
    major, minor = torch.cuda.get_device_capability(index)
    return GpuInfo(
        name=str(properties.name),
        compute_capability=(int(major), int(minor)),
        total_memory=int(properties.total_memory),
        index=index,
    )


def resolve_hardware(
    profile: str = "auto",
    precision: str = "auto",
    gradient_checkpointing: bool | None = None,
    *,
    device_index: int = 0,
) -> Hardware:
    """Decide device, precision and memory settings; refuse what cannot work.

    ``profile``:
      - ``"auto"``: a GPU if torch sees one (an RTX 2080 Ti gets the ``2080ti``
        profile, any other card ``cuda``), else the CPU;
      - ``"2080ti"``: the target card's settings (fp16, checkpointing, an
        11 GiB cap), also on a bigger card to rehearse a 2080 Ti run;
      - ``"cuda"``: the GPU as it is (its whole memory);
      - ``"cpu"``: fp32 on the CPU, for small runs and tests.

    ``precision``: ``"auto"`` is fp16 on any GPU and fp32 on the CPU. bf16 is
    used only when asked for by name, and only on compute capability 8.0 or
    newer; it is never the automatic choice, so a run's numerics do not change
    with the card it lands on.

    ``gradient_checkpointing``: None lets the profile decide (on for the 2080 Ti
    and for cards under 16 GiB, off on the CPU where memory is rarely the limit).
    """
    if profile not in PROFILES:
        raise HardwareError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    if precision not in PRECISIONS:
        raise HardwareError(
            f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}"
        )

    if profile == "cpu":
        return _cpu_hardware(precision, gradient_checkpointing)
    gpu = detect_gpu(device_index)
    if gpu is None:
        if profile == "auto":
            return _cpu_hardware(precision, gradient_checkpointing)
        raise HardwareError(
            f"the {profile} profile needs a CUDA GPU, and PyTorch sees none "
            f"(CUDA build: {torch.version.cuda or 'no'}): use --profile cpu"
        )
    if profile == "auto":
        profile = "2080ti" if _is_2080_ti(gpu) else "cuda"
    return _gpu_hardware(profile, gpu, precision, gradient_checkpointing)


def apply_memory_cap(hardware: Hardware) -> float | None:
    """Make PyTorch's allocator stop at ``hardware.memory_limit_bytes``.

    The trainer calls this once, before building the model, so that rehearsing
    the ``2080ti`` profile on a 24 or 80 GB card runs out of memory where a
    real 2080 Ti would, instead of passing and then failing on the user's card.
    Returns the fraction of the card that was set, or None when nothing was
    capped (CPU, or the limit is the whole card).

    The cap covers tensors from PyTorch's caching allocator only. The CUDA
    context (kernels, cuBLAS/cuDNN workspaces, a few hundred MB) lives outside
    it, so a run that just fits under the cap on a big card can still miss on
    a real 2080 Ti; :mod:`train.memory` counts that context in its
    ``workspace`` to leave room for it.
    """
    if hardware.device != "cuda" or hardware.gpu is None or hardware.memory_limit_bytes is None:
        return None
    fraction = hardware.memory_limit_bytes / hardware.gpu.total_memory
    if fraction >= 1.0:
        return None
    torch.cuda.set_per_process_memory_fraction(fraction, hardware.gpu.index)
    return fraction


def _is_2080_ti(gpu: GpuInfo) -> bool:
    return "2080 ti" in gpu.name.lower().replace("-", " ")


def _cpu_hardware(precision: str, gradient_checkpointing: bool | None) -> Hardware:
    if precision in ("fp16", "bf16"):
        raise HardwareError(
            f"{precision} training needs a CUDA GPU; on the CPU use --precision fp32"
        )
    return Hardware(
        profile="cpu",
        device="cpu",
        amp_dtype=None,
        use_grad_scaler=False,
        gradient_checkpointing=bool(gradient_checkpointing),
        memory_limit_bytes=None,
        gpu=None,
    )


def _gpu_hardware(
    profile: str, gpu: GpuInfo, precision: str, gradient_checkpointing: bool | None
) -> Hardware:
    if precision == "auto":
        precision = "fp16"
    if precision == "bf16":
        if profile == "2080ti":
            raise HardwareError(
                "the 2080ti profile trains in fp16 (an RTX 2080 Ti has no bf16): "
                "use --precision fp16, or --profile cuda on a newer card"
            )
        if not gpu.supports_bf16:
            major, minor = gpu.compute_capability
            raise HardwareError(
                f"bf16 needs compute capability 8.0 or newer; this {gpu.name} has "
                f"{major}.{minor}: use --precision fp16"
            )

    if profile == "2080ti":
        limit = min(RTX_2080_TI_MEMORY, gpu.total_memory)
        checkpointing_default = True
    else:
        limit = gpu.total_memory
        checkpointing_default = gpu.total_memory < CHECKPOINTING_BELOW
    amp_dtype = _DTYPES[precision]
    return Hardware(
        profile=profile,
        device="cuda",
        amp_dtype=amp_dtype,
        use_grad_scaler=amp_dtype is torch.float16,
        gradient_checkpointing=(
            checkpointing_default if gradient_checkpointing is None else gradient_checkpointing
        ),
        memory_limit_bytes=limit,
        gpu=gpu,
    )
