"""Process group set-up for `torchrun` (DDP): NCCL on CUDA, gloo on CPU; a no-op alone."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from ..devices import resolve_device


@dataclass(frozen=True)
class DistContext:
    """Where this process runs: rank / world size and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def setup(device_name: str) -> DistContext:
    """Joins the process group when launched by torchrun (WORLD_SIZE > 1)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        # Rank 0 validates alone while the others wait at a barrier: allow long validations.
        dist.init_process_group(
            "nccl" if device.type == "cuda" else "gloo", timeout=timedelta(hours=3)
        )
    return DistContext(rank, world_size, device)


def teardown(context: DistContext) -> None:
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()
