"""Which critic suits this machine, and how long a critique takes with it.

A GPU runs the largest critic whose fp16 weights fit with room to spare; a CPU
runs the largest critic that writes a critique within a few minutes (else the
smallest). A time is "measured" when the manifest carries a benchmark figure for
this kind of device, otherwise "estimated" and scaled from a reference run, and
it always says which.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from critique_app.core.store.manifest import ModelEntry

# Reference for CPU estimates: benchmarks/bench_real_size.py, SmolVLM-256M at its real
# size (random weights, so every section runs to its 150-token cap: an upper bound),
# one 512 px view of a 1280 px photo encoded once, 2 cores: 68 s for a whole critique.
REFERENCE_PARAMS = 256_484_928
REFERENCE_CPU_SECONDS = 68.0
REFERENCE_CPU_CORES = 2
# On a CPU, prefer a larger critic only while a whole critique stays within the
# project's own target for one (90 s).
CPU_BUDGET_S = 90.0
# GPU estimates: decoding reads every fp16 weight once per token; ~300 GB/s is what a
# consumer card (RTX 2080 Ti: 616 GB/s peak) sustains. About 400 tokens per critique,
# plus prefill of ~900 image/prompt tokens, counted as 15% on top.
GPU_BYTES_PER_S = 300e9
CRITIQUE_TOKENS = 400
GPU_HEADROOM_GB = 1.5  # activations, the KV cache and the CUDA context
GPU_FIT_FACTOR = 1.2


@dataclass(frozen=True)
class Machine:
    device: str  # "cuda" or "cpu"
    name: str
    memory_gb: float | None = None  # GPU memory
    cores: int = 1

    def describe(self) -> str:
        if self.device == "cuda":
            return f"{self.name}, {self.memory_gb:.1f} GB"
        return f"CPU, {self.cores} cores"


@dataclass(frozen=True)
class Recommendation:
    entry: ModelEntry
    machine: Machine
    seconds: float
    how: str  # "measured" or "estimated"
    why: str

    def summary(self) -> str:
        return (f"Recommended critic for this machine ({self.machine.describe()}): "
                f"{self.entry.name} — about {format_duration(self.seconds)} per critique "
                f"({self.how}). {self.why}")


def detect_machine() -> Machine:
    """The first CUDA GPU through torch when there is one, else the CPU."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)
    try:
        import torch

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            return Machine("cuda", props.name, props.total_memory / 1e9, cores)
    except Exception:  # a broken CUDA install is a CPU machine for this purpose
        pass
    return Machine("cpu", "CPU", None, cores)


def critique_seconds(entry: ModelEntry, machine: Machine) -> tuple[float, str]:
    """(seconds, "measured" | "estimated") for one critique with ``entry``."""
    for figure in entry.measured:
        if figure.get("device") == machine.device:
            seconds = float(figure["seconds"])
            cores = figure.get("cores")
            if machine.device == "cpu" and cores and cores != machine.cores:
                return seconds * _core_scale(int(cores), machine.cores), "estimated"
            return seconds, "measured"
    params = entry.params or REFERENCE_PARAMS
    if machine.device == "cuda":
        weights = (entry.fp16_gb or params * 2 / 1e9) * 1e9
        return weights * CRITIQUE_TOKENS / GPU_BYTES_PER_S * 1.15, "estimated"
    seconds = REFERENCE_CPU_SECONDS * params / REFERENCE_PARAMS
    return seconds * _core_scale(REFERENCE_CPU_CORES, machine.cores), "estimated"


def _core_scale(reference_cores: int, cores: int) -> float:
    """Matrix work scales with cores, but not beyond ~16 on a desktop's memory bus."""
    return reference_cores / max(1, min(cores, 16))


def fits(entry: ModelEntry, machine: Machine) -> bool:
    if machine.device != "cuda" or machine.memory_gb is None or entry.fp16_gb is None:
        return False
    return entry.fp16_gb * GPU_FIT_FACTOR + GPU_HEADROOM_GB <= machine.memory_gb


def recommend(entries: list[ModelEntry], machine: Machine) -> Recommendation | None:
    """The critic to suggest, or None when the manifest offers no critic."""
    critics = sorted((e for e in entries if e.task == "critic"),
                     key=lambda e: e.params or REFERENCE_PARAMS)
    if not critics:
        return None
    fitting = [e for e in critics if fits(e, machine)]
    if fitting:
        choice = fitting[-1]
        why = (f"Its fp16 weights ({choice.fp16_gb:.1f} GB) fit in the GPU's "
               f"{machine.memory_gb:.1f} GB with room for the work.")
    else:
        where = "No critic fits this GPU, so it runs on the CPU" if machine.device == "cuda" \
            else "On a CPU"
        machine = Machine("cpu", "CPU", None, machine.cores)
        quick = [e for e in critics if critique_seconds(e, machine)[0] <= CPU_BUDGET_S]
        choice = quick[-1] if quick else critics[0]
        why = (f"{where}: the largest critic that writes within "
               f"{format_duration(CPU_BUDGET_S)} is the best trade."
               if quick else f"{where}: even the smallest critic is slow; it is the quickest.")
    seconds, how = critique_seconds(choice, machine)
    return Recommendation(choice, machine, seconds, how, why)


def format_duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{round(seconds)} s"
    return f"{round(seconds / 60)} min"
