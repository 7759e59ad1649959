"""The preprocess stage: OpenCV path (exactly the models' functions) and the torch tensor path
used on CUDA, compared on a real frame (here on CPU, so the tensor path is tested everywhere)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.pipeline import FramePreprocessor
from models.pns_plus import frame_to_input
from models.samihs import preprocess_frame


@pytest.mark.parametrize("frame_size", [(288, 384), (1080, 1920), (200, 150)])
def test_tensor_path_is_close_to_the_opencv_path(real_clip, frame_size) -> None:
    import cv2

    height, width = frame_size
    frame = cv2.resize(real_clip[0][0], (width, height), interpolation=cv2.INTER_LINEAR)
    exact = FramePreprocessor((256, 448), 256, "BGR", "cpu")
    tensor = FramePreprocessor((256, 448), 256, "BGR", "cpu", tensor_path=True)
    exact.start(frame)
    tensor.start(frame)
    np.testing.assert_array_equal(exact.pns_input(), frame_to_input(frame, (256, 448)))
    pns_gap = (tensor.pns_input() - exact.pns_input()).abs()
    assert pns_gap.max() < 0.02 and pns_gap.mean() < 0.003
    (image, geometry), (expected, expected_geometry) = tensor.sam_input(), exact.sam_input()
    assert geometry == expected_geometry
    torch.testing.assert_close(expected, preprocess_frame(frame, 256, "BGR")[0])
    newh, neww = geometry.resized_size
    assert not image[..., newh:, :].any() and not image[..., :, neww:].any()  # zero padding
    # Different resize filters (cv2 area vs antialiased bilinear): close, not equal. SAM's
    # normalised values span about -2..2.6.
    gap = (image - expected)[..., :newh, :neww].abs()
    assert gap.mean() < 0.03


def test_rgb_input_on_the_tensor_path(real_clip) -> None:
    bgr = real_clip[1][0]
    from_bgr = FramePreprocessor((256, 448), 256, "BGR", tensor_path=True)
    from_rgb = FramePreprocessor((256, 448), 256, "RGB", tensor_path=True)
    from_bgr.start(bgr)
    from_rgb.start(np.ascontiguousarray(bgr[:, :, ::-1]))
    torch.testing.assert_close(from_bgr.pns_input(), from_rgb.pns_input())
    torch.testing.assert_close(from_bgr.sam_input()[0], from_rgb.sam_input()[0])
    # RGB after conversion: red dominates blue in a colonoscopy frame.
    pns = from_bgr.pns_input()
    assert pns[0, 0].mean() > pns[0, 2].mean()
