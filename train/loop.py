"""The one training loop every fine-tuning task uses.

A task says what to train and how to measure it (:class:`TrainTask`); the
loop does the rest the same way for all of them: seeded batch order, fp16
autocast with a gradient scaler on the 2080 Ti (parameters stay fp32),
gradient accumulation, warm-up then cosine learning rate, gradient clipping,
held-out evaluation after each epoch, progress events, checkpoints, exact
resume, DDP when launched by torchrun/accelerate, and the measured peak GPU
memory.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch.utils.data import DataLoader

from train import interrupt
from train.checkpoint import load_checkpoint, save_checkpoint
from train.distributed import DistContext, init_distributed
from train.seed import rng_state, seed_everything, set_rng_state


@dataclass
class LoopSettings:
    epochs: int = 10
    batch_size: int = 32
    accumulate: int = 1  # micro-batches per optimizer step
    lr: float = 3e-4
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05
    clip_grad_norm: float | None = 1.0
    seed: int = 0
    checkpoint_every: int = 0  # optimizer steps between checkpoints; 0: once per epoch
    max_steps: int | None = None  # stop (with a checkpoint) after this many optimizer steps
    workers: int = 0  # DataLoader processes

    def fingerprint(self) -> dict:
        """What must not change between a run and its resume."""
        keep = ("epochs", "batch_size", "accumulate", "lr", "weight_decay", "warmup_fraction",
                "clip_grad_norm", "seed")
        return {k: v for k, v in asdict(self).items() if k in keep}


class TrainTask(Protocol):
    """What the loop needs from a task (score, ssl, critic...)."""

    name: str
    model: torch.nn.Module  # the module whose trainable parameters are optimised

    def parameter_groups(self) -> list[dict]: ...  # AdamW groups (layer-wise lr, frozen left out)

    def train_set(self) -> torch.utils.data.Dataset: ...

    def collate(self, items: list): ...  # may drop unreadable items (None)

    def loss(self, model: torch.nn.Module, batch, device: torch.device) -> torch.Tensor: ...

    def evaluate(self, model: torch.nn.Module, device: torch.device) -> dict[str, float]: ...

    def fingerprint(self) -> dict: ...  # the task's own settings and data, for resume checks


@dataclass
class FitResult:
    steps: int
    epochs_done: float
    stopped_early: bool
    metrics: dict[str, float]  # the last held-out evaluation
    history: list[dict] = field(default_factory=list)  # one entry per evaluation
    peak_gpu_memory_bytes: int | None = None
    seconds: float = 0.0


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak rate."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """This epoch's batches of sample indices: a permutation fixed by (seed, epoch)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    return [order[i:i + batch_size].tolist() for i in range(0, n, batch_size)]


def fit(task: TrainTask, settings: LoopSettings, hardware, run_dir: Path, progress,
        *, resume: bool = False, memory: dict | None = None) -> FitResult:
    """Train ``task``; ``memory`` (the peak-memory estimate) goes into the start event."""
    return _Run(task, settings, hardware, Path(run_dir), progress).fit(resume, memory)


class _Run:
    """One call of :func:`fit`: the optimiser, schedule, scaler and where the run is."""

    def __init__(self, task: TrainTask, settings: LoopSettings, hardware, run_dir: Path,
                 progress) -> None:
        self.task, self.settings, self.hardware = task, settings, hardware
        self.run_dir, self.progress = run_dir, progress
        self.started = time.perf_counter()
        self.dist: DistContext = init_distributed(hardware.device)
        self.device = self.dist.device(hardware.device)
        seed_everything(settings.seed)
        self.model = task.model.to(self.device)
        self.model.train()
        self.trained = self.dist.wrap(self.model, self.device)
        groups = task.parameter_groups()
        for group in groups:  # a group may ask for a fraction of the rate (e.g. a backbone)
            group["lr"] = settings.lr * group.pop("lr_scale", 1.0)
        self.optimizer = torch.optim.AdamW(groups, lr=settings.lr,
                                           weight_decay=settings.weight_decay)
        self.dataset = task.train_set()
        if len(self.dataset) == 0:
            raise ValueError("no training samples")
        self.micro_batches = len(self.dist.shard(
            epoch_batches(len(self.dataset), settings.batch_size, 0, 0)))
        steps_per_epoch = max(1, math.ceil(self.micro_batches / settings.accumulate))
        self.total_steps = steps_per_epoch * settings.epochs
        warmup = int(settings.warmup_fraction * self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(step, self.total_steps, warmup))
        self.scaler = hardware.grad_scaler()
        self.fingerprint = {**settings.fingerprint(), **task.fingerprint(),
                            "world_size": self.dist.world_size}
        self.position = {"epoch": 0, "batch": 0, "step": 0}
        self.history: list[dict] = []
        # The random state right after the last optimizer step: what a checkpoint taken
        # on Ctrl-C must hold, since the interrupted micro-batches are thrown away.
        self.rng_at_step: dict | None = None

    def fit(self, resume: bool, memory: dict | None) -> FitResult:
        if resume:
            self.restore()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        if self.dist.is_main:
            self.progress.start(self.task.name, self.total_steps, self.settings.epochs,
                                {**asdict(self.settings), "world_size": self.dist.world_size},
                                self.hardware.to_dict(), memory)
        metrics = self.history[-1]["metrics"] if self.history else {}
        self.rng_at_step = rng_state()
        stopped = False
        try:
            for epoch in range(self.position["epoch"], self.settings.epochs):
                if self.train_epoch(epoch):
                    stopped = True
                    break
                metrics = _evaluate(self.task, self.model, self.device, self.dist)
                self.history.append({"epoch": epoch + 1, "step": self.position["step"],
                                     "metrics": metrics})
                if self.dist.is_main:
                    self.progress.evaluate(self.position["step"], epoch + 1, metrics)
                self.position.update(epoch=epoch + 1, batch=0)
                self.checkpoint()
        except KeyboardInterrupt:
            if self.position["step"]:  # Ctrl-C keeps every finished step: --resume continues
                self.checkpoint(self.rng_at_step)
            self.dist.close()
            raise
        peak = (int(torch.cuda.max_memory_allocated(self.device))
                if self.device.type == "cuda" else None)
        self.dist.close()
        done = self.position["epoch"] + self.position["batch"] / max(1, self.micro_batches)
        return FitResult(steps=self.position["step"], epochs_done=done, stopped_early=stopped,
                         metrics=metrics, history=self.history, peak_gpu_memory_bytes=peak,
                         seconds=time.perf_counter() - self.started)

    def train_epoch(self, epoch: int) -> bool:
        """One epoch from where the run is; True when it stopped at --max-steps."""
        settings, position = self.settings, self.position
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        batches = self.dist.shard(epoch_batches(len(self.dataset), settings.batch_size,
                                                settings.seed, epoch))
        # Its own generator: a DataLoader would otherwise draw its worker seed from the
        # global generator, and a resumed run would then see different dropout masks.
        loader = DataLoader(self.dataset, batch_sampler=batches[position["batch"]:],
                            collate_fn=self.task.collate, num_workers=settings.workers,
                            generator=torch.Generator().manual_seed(settings.seed + epoch))
        self.optimizer.zero_grad(set_to_none=True)
        for index, batch in enumerate(loader, start=position["batch"]):
            last = index == len(batches) - 1
            with self.hardware.autocast():
                loss = self.task.loss(self.trained, batch, self.device)
            scaled = loss / settings.accumulate
            (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
            if (index + 1) % settings.accumulate and not last:
                continue
            _optimizer_step(self.model, self.optimizer, self.scaler, settings.clip_grad_norm)
            self.scheduler.step()
            position.update(batch=index + 1, step=position["step"] + 1)
            self.rng_at_step = rng_state()
            if self.dist.is_main:
                self.progress.step(position["step"], epoch + (index + 1) / len(batches),
                                   float(loss.detach()), self.scheduler.get_last_lr()[0])
            interrupt.check()  # a Ctrl-C whose exception a finaliser swallowed
            at_limit = settings.max_steps is not None and position["step"] >= settings.max_steps
            due = (settings.checkpoint_every and not last
                   and position["step"] % settings.checkpoint_every == 0)
            if at_limit or due:
                self.checkpoint()
            if at_limit:
                return True
        return False

    def restore(self) -> None:
        state = load_checkpoint(self.run_dir, self.fingerprint)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.position, self.history = state["position"], state["history"]
        if self.dist.is_main:
            where = self.position
            self.progress.log(f"resumed at step {where['step']} (epoch {where['epoch'] + 1}, "
                              f"batch {where['batch']})")

    def checkpoint(self, rng: dict | None = None) -> None:
        if self.dist.is_main:
            path = save_checkpoint(self.run_dir, {
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "rng": rng or rng_state(), "position": dict(self.position),
                "history": self.history, "fingerprint": self.fingerprint})
            self.progress.checkpoint(self.position["step"], str(path))
        self.dist.barrier()


def _optimizer_step(model, optimizer, scaler, clip: float | None) -> None:
    if scaler is not None:
        scaler.unscale_(optimizer)
    if clip:
        torch.nn.utils.clip_grad_norm_(
            [p for p in model.parameters() if p.requires_grad], clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _evaluate(task, model, device, dist: DistContext) -> dict[str, float]:
    """Held-out metrics, on the first process only (the others wait)."""
    metrics: dict[str, float] = {}
    if dist.is_main:
        model.eval()
        with torch.no_grad():
            metrics = task.evaluate(model, device)
        model.train()
    dist.barrier()
    return metrics
