"""Choosing the torch device from a config or command-line name."""

from __future__ import annotations

import torch


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """ "auto" -> this process's GPU if there is one, else the CPU; "cuda" -> cuda:local_rank."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device(f"cuda:{local_rank}")
    return device
