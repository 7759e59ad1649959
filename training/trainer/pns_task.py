"""PNS+ training as the public code does it: anchor + 5-frame clips, BCE on the five frames."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from models.pns_plus import BACKBONES, PNSPlus, build_pns_plus, load_checkpoint

from ..config import PnsTrainConfig
from ..data.clips import ClipDataset
from ..data.layout import Video
from ..data.sources import load_sources
from ..errors import ConfigError
from ..evaluate.predict import PnsPredictor
from ..model_files import save_pns_weights
from .common import build_loss, train_augmentation


class PnsTask:
    name = "pns"
    find_unused_parameters = False
    # The backbone (optim.pretrained_lr_scale applies to it when it starts pretrained).
    pretrained_prefixes = ("feature_extractor.",)

    def __init__(self, config: PnsTrainConfig) -> None:
        self.config = config
        spec = config.model
        if spec.backbone not in BACKBONES:
            raise ConfigError(
                f"model.backbone must be one of {', '.join(sorted(BACKBONES))}, "
                f"got {spec.backbone!r}"
            )
        size = spec.input_size
        if len(size) != 2 or any(side <= 0 or side % 16 for side in size):
            raise ConfigError(f"model.input_size must be [H, W], multiples of 16, got {size}")
        self.input_size = (int(size[0]), int(size[1]))
        self.loss = build_loss(config.loss, from_logits=False)

    def build_model(self) -> PNSPlus:
        spec = self.config.model
        try:
            return build_pns_plus(
                spec.checkpoint, spec.backbone, self.input_size, spec.pretrained_backbone
            )
        except ValueError as error:
            if type(error) is not ValueError:
                raise
            raise ConfigError(f"model: {error}") from None

    def train_dataset(self) -> ClipDataset:
        data = self.config.data
        augment = train_augmentation(data)
        return ClipDataset(
            load_sources(data.train, "train"), self.input_size, augment, seed=self.config.run.seed
        )

    def val_videos(self) -> list[Video]:
        return load_sources(self.config.data.val, "val")

    def compute_loss(self, model: nn.Module, batch: dict, device: torch.device) -> torch.Tensor:
        probs = model(batch["clip"].to(device))  # (B*5, 1, H, W)
        return self.loss(probs, batch["masks"].to(device).flatten(0, 1))

    def predictor(self, model: nn.Module, device: torch.device) -> PnsPredictor:
        return PnsPredictor(model, device)

    def save_weights(self, model: nn.Module, path: Path) -> None:
        save_pns_weights(model, path, self.config.model.backbone)

    def load_weights(self, model: nn.Module, path: Path) -> None:
        load_checkpoint(model, path, f"PNS+ ({self.config.model.backbone})")
