"""What the generic training loop needs from a model family (SAMIHS or PNS+)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch
from torch import nn
from torch.utils.data import Dataset

from ..data.layout import Video
from ..evaluate.predict import Predictor


class Task(Protocol):
    name: str
    # DDP must look for parameters without gradients (SAM's unused multimask heads).
    find_unused_parameters: bool

    def build_model(self) -> nn.Module:
        """The model to train, weights loaded as configured, trainable flags set."""
        ...

    def train_dataset(self) -> Dataset:
        """An EpochSeeded dataset of training samples."""
        ...

    def val_videos(self) -> list[Video]: ...

    def compute_loss(self, model: nn.Module, batch: dict, device: torch.device) -> torch.Tensor: ...

    def predictor(self, model: nn.Module, device: torch.device) -> Predictor: ...

    def save_weights(self, model: nn.Module, path: Path) -> None: ...

    def load_weights(self, model: nn.Module, path: Path) -> None: ...
