"""Builders for SAMIHS variants."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .checkpoint import load_pretrained, load_samihs_weights, read_samihs_config
from .config import SAMIHS_VARIANTS, SAMIHSConfig, check_image_size
from .model import SAMIHS


def samihs_config(
    variant: str = "vit_b",
    image_size: int | None = None,
    adapter_dim: int = 100,
    window_size: int | None = None,
    tied_adapter: bool = True,
    released_window_order: bool = False,
    fine_dim: int = 0,
) -> SAMIHSConfig:
    """The config of a registered variant; `None` sizes take the variant's defaults.
    fine_dim: stride-4 features for the mask decoder (CNN variants; see fine_features.py)."""
    if variant not in SAMIHS_VARIANTS:
        known = ", ".join(SAMIHS_VARIANTS)
        raise ValueError(f"unknown SAMIHS variant {variant!r}; choose one of: {known}")
    spec = SAMIHS_VARIANTS[variant]
    image_size = spec.default_image_size if image_size is None else image_size
    check_image_size(image_size)
    if adapter_dim <= 0:
        raise ValueError(f"adapter_dim must be positive, got {adapter_dim}")
    if fine_dim < 0 or (fine_dim and spec.backbone is None):
        raise ValueError(
            f"fine_dim must be 0 or, for a CNN variant, positive; got {fine_dim} for {variant}"
        )
    return SAMIHSConfig(
        variant=variant,
        image_size=image_size,
        embed_dim=spec.embed_dim,
        depth=spec.depth,
        num_heads=spec.num_heads,
        global_attn_indexes=spec.global_attn_indexes,
        window_size=spec.default_window_size if window_size is None else window_size,
        adapter_dim=adapter_dim,
        tied_adapter=tied_adapter,
        released_window_order=released_window_order,
        backbone=spec.backbone,
        fine_dim=fine_dim,
    )


def build_samihs(
    variant: str = "vit_b",
    image_size: int | None = None,
    adapter_dim: int = 100,
    sam_checkpoint: str | Path | None = None,
    adapter_checkpoint: str | Path | None = None,
    *,
    window_size: int | None = None,
    tied_adapter: bool = True,
    released_window_order: bool = False,
    pretrained_backbone: bool = False,
    fine_dim: int = 0,
) -> SAMIHS:
    """Builds SAMIHS, optionally from SAM/SAMIHS weights and then this project's weight file.

    image_size: input side; None takes the variant's own (1024 for vit_b/l/h, 256 for vit_t).
    window_size: None keeps the variant's window (14 for SAM's, whose tables were trained at 14).
    pretrained_backbone: a CNN variant's trunk starts from its ImageNet weights (for training).
    fine_dim: see samihs_config. An adapter_checkpoint without fine features may start a model
    with them (its new layers start at zero: the same masks as the file's model).
    The model comes back in eval mode with the freeze policy applied.
    """
    config = samihs_config(
        variant, image_size, adapter_dim, window_size, tied_adapter, released_window_order,
        fine_dim,
    )
    if pretrained_backbone and config.backbone is None:
        raise ValueError(f"variant {variant!r} has no pretrained CNN backbone; use sam_checkpoint")
    return _finish(SAMIHS(config, pretrained_backbone), sam_checkpoint, adapter_checkpoint)


def load_samihs(weights: str | Path, sam_checkpoint: str | Path | None = None) -> SAMIHS:
    """Rebuilds a model from a polyp-live weight file (its config travels in the file)."""
    config, _ = read_samihs_config(weights)
    return _finish(SAMIHS(config), sam_checkpoint, weights)


def at_image_size(model: SAMIHS, image_size: int) -> SAMIHS:
    """The same network and weights run at another input side (eval mode).

    Only a CNN image encoder allows it: its weights do not depend on the input size, and SAM's
    prompt encoder and mask decoder work on any embedding grid, while a ViT's position table is
    tied to the size it was trained at. A CNN trained with zoom augmentation often segments
    better at a somewhat larger test size than its training size (FixRes, Touvron et al. 2019).
    """
    config = model.config
    if image_size == config.image_size:
        return model
    check_image_size(image_size)
    if config.backbone is None:
        raise ValueError(
            f"a {config.variant} SAM stage runs only at the size it was trained at "
            f"({config.image_size}): its ViT position table is tied to it"
        )
    resized = SAMIHS(replace(config, image_size=image_size))
    resized.load_state_dict(model.state_dict())
    if hasattr(model, "sam_checkpoint"):
        resized.sam_checkpoint = model.sam_checkpoint
    resized.set_trainable()
    return resized.eval()


def _finish(
    model: SAMIHS, sam_checkpoint: str | Path | None, adapter_checkpoint: str | Path | None
) -> SAMIHS:
    if sam_checkpoint is not None:
        load_pretrained(model, sam_checkpoint)
    if adapter_checkpoint is not None:
        load_samihs_weights(model, adapter_checkpoint)
    model.set_trainable()
    return model.eval()
