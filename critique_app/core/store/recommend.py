"""Which critic and which photo scorer suit this machine, and how long they take.

Critics: a GPU runs the largest critic whose fp16 weights fit with room to spare; a CPU
runs the largest critic that writes a critique within a few minutes (else the
smallest). A time is "measured" when the manifest carries a benchmark figure for
this kind of device, otherwise "estimated" and scaled from a reference run, and
it always says which.

Photo scorers (:func:`recommend_scorer`): the most accurate pretrained scorer on AVA
that needs no licence accepted first (LAION aesthetic v2), on any machine; on a CPU
the advice states its speed, so the user can accept the wait before pulling it.
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


# -- photo scorers -------------------------------------------------------------------
FOLDER_PHOTOS = 500  # "a folder of N photos takes ..." in the advice


@dataclass(frozen=True)
class ScorerRecommendation:
    entry: ModelEntry
    machine: Machine
    why: str
    size_bytes: int  # what the pull downloads (the sizes the manifest knows)
    seconds_per_photo: float | None
    how: str  # "measured" (this kind of machine), "estimated" (scaled) or "unknown"

    def speed_text(self) -> str:
        if self.seconds_per_photo is None:
            return "speed not known yet"
        basis = "benchmark figure for this kind of machine" if self.how == "measured" else \
            "estimated from a benchmark figure"
        return (f"about {format_seconds(self.seconds_per_photo)} a photo "
                f"({self.machine.describe()}; {basis})")

    def summary(self) -> str:
        card = self.entry.card
        srcc = f", SRCC {card['srcc']:.3f} on AVA" if card.get("srcc") is not None else ""
        licence = card.get("weights_licence") or self.entry.licence
        return (f"Recommended photo scorer: {self.entry.title} ({self.entry.name}): "
                f"{_gb(self.size_bytes)} download, {licence}{srcc}; {self.speed_text()}. "
                f"{self.why}")


def scorer_seconds(entry: ModelEntry, machine: Machine) -> tuple[float | None, str]:
    """(seconds a photo, "measured" | "estimated" | "unknown") for ``entry`` here.

    A CPU figure measured with as many cores is "measured"; with other core counts it is
    scaled ("estimated"). A GPU figure is "measured" only for the same GPU model.
    """
    figures = [f for f in entry.measured if "seconds_per_photo" in f]
    for figure in figures:
        if figure.get("device") != machine.device:
            continue
        seconds = float(figure["seconds_per_photo"])
        if machine.device == "cpu":
            cores = figure.get("cores")
            if cores and int(cores) != machine.cores:
                return seconds * _core_scale(int(cores), machine.cores), "estimated"
            return seconds, "measured"
        same_gpu = figure.get("gpu") and figure["gpu"].lower() in machine.name.lower()
        return seconds, "measured" if same_gpu else "estimated"
    return None, "unknown"


def recommend_scorer(entries: list[ModelEntry], machine: Machine) -> ScorerRecommendation | None:
    """The pretrained photo scorer to offer a newcomer, or None when there is none.

    Never a model that needs a licence accepted (e.g. non-commercial weights): those
    are opt-in. Among the rest, the most accurate on AVA (its card's SRCC).
    """
    offered = [e for e in entries
               if e.task == "score" and not e.licence_acceptance
               and e.source.kind not in ("local",) and e.card.get("srcc") is not None]
    if not offered:
        return None
    choice = max(offered, key=lambda e: float(e.card["srcc"]))
    seconds, how = scorer_seconds(choice, machine)
    why = "Of the pretrained scorers that need no licence accepted, it is the most accurate " \
          "on AVA."
    if machine.device == "cpu" and seconds is not None:
        folder = seconds * FOLDER_PHOTOS
        why += (f" It runs on this CPU, slowly: a folder of {FOLDER_PHOTOS} photos takes about "
                f"{format_duration(folder)}; a GPU is much faster.")
    elif machine.device == "cuda":
        why += " This machine's GPU runs it quickly."
    return ScorerRecommendation(choice, machine, why, choice.download_bytes, seconds, how)


def format_seconds(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 1 else format_duration(seconds)


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"
