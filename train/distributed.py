"""Multi-GPU without code changes: ``torchrun`` or ``accelerate launch`` set the
usual environment variables (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR); when
they are there the trainer joins the process group, wraps the model in DDP,
gives each process its share of every epoch's batches, and lets only the first
process write progress, checkpoints and the model."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, base: str) -> torch.device:
        if base == "cuda":
            return torch.device("cuda", self.local_rank if self.enabled else 0)
        return torch.device(base)

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=False)

    def shard(self, batches: list) -> list:
        """This process's batches; every process gets the same number of them
        (DDP's gradient all-reduce needs every rank to step together)."""
        if not self.enabled:
            return batches
        usable = len(batches) - len(batches) % self.world_size
        return batches[self.rank:usable:self.world_size]

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.enabled and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def is_main_process() -> bool:
    """True unless this is a second (third...) process of a torchrun/accelerate launch."""
    return int(os.environ.get("RANK", "0")) == 0


def init_distributed(device: str) -> DistContext:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    context = DistContext(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", 0)))
    if not torch.distributed.is_initialized():
        backend = "nccl" if device == "cuda" else "gloo"
        if device == "cuda":
            torch.cuda.set_device(context.local_rank)
        torch.distributed.init_process_group(backend)
    return context
