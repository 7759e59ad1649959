"""Per-sample randomness: a sample's augmentation depends only on (seed, epoch, index).

So data are the same whatever the number of DataLoader workers or processes, and a resumed run
sees exactly the samples an uninterrupted run would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def sample_seed(seed: int, epoch: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


@contextmanager
def seeded(seed: int, epoch: int, index: int) -> Iterator[np.random.Generator]:
    """Seeds torch's CPU generator for the block (restored afterwards); yields a NumPy generator
    with the same seed for NumPy-side sampling."""
    value = sample_seed(seed, epoch, index)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(value)
        yield np.random.default_rng(value)


class EpochSeeded:
    """Mixin for datasets whose samples are seeded by (seed, epoch, index)."""

    seed: int = 0
    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
