"""Frame <-> SAM input geometry on odd frame sizes and a real frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from segment_anything.utils.transforms import ResizeLongestSide

from models.samihs import FrameGeometry, logits_to_frame, preprocess_frame
from models.samihs.transforms import SAM_PIXEL_MEAN, SAM_PIXEL_STD

FRAME_SIZES = [(1008, 1158), (576, 720), (1080, 1920), (288, 384), (1080, 607)]


@pytest.mark.parametrize("frame_size", FRAME_SIZES)
@pytest.mark.parametrize("image_size", [256, 1024])
def test_geometry_matches_segment_anything(frame_size, image_size):
    geometry = FrameGeometry(frame_size, image_size)
    assert geometry.resized_size == ResizeLongestSide.get_preprocess_shape(*frame_size, image_size)
    points = np.array([[0.0, 0.0], [frame_size[1] - 1, frame_size[0] - 1], [17.5, 33.25]])
    expected = ResizeLongestSide(image_size).apply_coords(points, frame_size)
    assert np.allclose(geometry.frame_to_input(points), expected)
    assert np.allclose(geometry.input_to_frame(geometry.frame_to_input(points)), points)
    boxes = torch.tensor([[10.0, 20.0, 300.0, 250.0]])
    assert torch.allclose(geometry.input_to_frame(geometry.frame_to_input(boxes)), boxes)


@pytest.mark.parametrize("frame_size", FRAME_SIZES)
def test_preprocess_then_postprocess_puts_a_region_back_in_place(frame_size):
    """A bright rectangle goes through SAM's input space and back onto the same frame pixels."""
    height, width = frame_size
    frame = np.zeros((height, width, 3), np.uint8)
    top, left, bottom, right = height // 5, width // 3, height * 3 // 5, width * 4 // 5
    frame[top:bottom, left:right] = 255
    image, geometry = preprocess_frame(frame, 256, channel_order="RGB")
    assert image.shape == (1, 3, 256, 256)
    # Treat SAM input pixels (one channel, de-normalised) as if they were mask logits.
    brightness = image[:, :1] * SAM_PIXEL_STD[0] + SAM_PIXEL_MEAN[0] - 127.5
    low_res = torch.nn.functional.interpolate(brightness, (256, 256), mode="bilinear")
    back = logits_to_frame(low_res, geometry)[0, 0].numpy() > 0
    assert back.shape == frame_size
    truth = frame[:, :, 0] > 0
    iou = (back & truth).sum() / (back | truth).sum()
    assert iou > 0.97


def test_preprocess_normalises_and_pads_like_sam(real_clip):
    frame_bgr = real_clip[0][0]  # 288x384
    image, geometry = preprocess_frame(frame_bgr, 1024, channel_order="BGR")
    assert geometry.resized_size == (768, 1024)
    rgb = frame_bgr[:, :, ::-1]
    upscaled = ResizeLongestSide(1024).apply_image(np.ascontiguousarray(rgb))  # SAM's own resize
    expected = (
        torch.from_numpy(upscaled).permute(2, 0, 1).float()
        - torch.tensor(SAM_PIXEL_MEAN).view(3, 1, 1)
    ) / torch.tensor(SAM_PIXEL_STD).view(3, 1, 1)
    # Different resize kernels (cv2 vs PIL): compare on average, and the padding exactly.
    assert (image[0, :, :768] - expected).abs().mean() < 0.05
    assert torch.all(image[0, :, 768:] == 0)
    rgb_image, _ = preprocess_frame(np.ascontiguousarray(rgb), 1024, channel_order="RGB")
    assert torch.equal(rgb_image, image)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (np.zeros((100, 100), np.uint8), "shape"),
        (np.zeros((100, 100, 4), np.uint8), "shape"),
        (np.zeros((100, 100, 3), np.float32), "uint8"),
    ],
)
def test_bad_frames_raise_value_error(frame, message):
    with pytest.raises(ValueError, match=message):
        preprocess_frame(frame, 256, channel_order="RGB")


def test_channel_order_is_checked():
    with pytest.raises(ValueError, match="channel_order"):
        preprocess_frame(np.zeros((10, 10, 3), np.uint8), 256, channel_order="rgb")  # type: ignore[arg-type]
