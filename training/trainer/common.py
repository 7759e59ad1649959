"""Pieces shared by the trainers."""

from __future__ import annotations

from torchvision.transforms import v2

from ..config import DataConfig, LossConfig
from ..data.augment import RECIPES, build_augmentation
from ..errors import ConfigError
from ..losses import SegmentationLoss


def build_loss(config: LossConfig, from_logits: bool) -> SegmentationLoss:
    if config.boundary_form not in ("released", "gamma"):
        raise ConfigError(
            f"loss.boundary_form must be released or gamma, got {config.boundary_form!r}"
        )
    if config.bce_weight < 0 or config.boundary_weight < 0:
        raise ConfigError("loss weights must be >= 0")
    if config.bce_weight == 0 and config.boundary_weight == 0:
        raise ConfigError("loss.bce_weight and loss.boundary_weight are both 0: nothing to train")
    return SegmentationLoss(
        config.bce_weight,
        config.boundary_weight,
        config.pos_weight,
        config.boundary_form,
        from_logits,
    )


def train_augmentation(data: DataConfig) -> v2.Compose | None:
    """The configured training augmentation (data.augment, data.recipe), or None."""
    if data.recipe not in RECIPES:
        raise ConfigError(f"data.recipe must be one of {', '.join(RECIPES)}, got {data.recipe!r}")
    if not data.augment:
        return None
    return build_augmentation(data.recipe, data.max_border_crop, data.hflip)
