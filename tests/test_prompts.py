"""Prompts from a PNS+ probability map: components, coordinates across spaces, dense mask prompt."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from models.prompts import (
    PromptConfig,
    PromptGeometry,
    Prompts,
    mask_logits_to_frame,
    prompts_from_probability,
    sam_input_size,
)

MAP_SIZE = (256, 448)  # PNS+ input/output (H, W)
# Odd frame sizes, (H, W): 1158x1008, 720x576, 1920x1080 and CVC-ClinicDB's 384x288 (W x H).
FRAME_SIZES = [(1008, 1158), (576, 720), (1080, 1920), (288, 384)]


def _map_from_frame_mask(mask: np.ndarray) -> np.ndarray:
    """A frame-space 0/1 mask resized to PNS+ space the way PNS+ input is resized."""
    return cv2.resize(
        mask.astype(np.float32), (MAP_SIZE[1], MAP_SIZE[0]), interpolation=cv2.INTER_LINEAR
    )


def _ellipse_mask(frame_size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random filled, rotated ellipse well inside a frame, uint8 0/1."""
    height, width = frame_size
    mask = np.zeros(frame_size, dtype=np.uint8)
    axes = (int(rng.uniform(0.08, 0.2) * width), int(rng.uniform(0.08, 0.2) * height))
    centre = (
        int(rng.uniform(0.25, 0.75) * width),
        int(rng.uniform(0.25, 0.75) * height),
    )
    cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, thickness=-1)
    return mask


def _edge_box(mask: np.ndarray) -> np.ndarray:
    """Pixel-edge XYXY box of the nonzero pixels: [xmin, ymin, xmax + 1, ymax + 1]."""
    rows, cols = np.nonzero(mask)
    return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=np.float64)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area - inter)


def _in_map(prob: np.ndarray, **config: object) -> Prompts:
    """Prompts with the frame equal to the map, in map coordinates."""
    return prompts_from_probability(prob, MAP_SIZE, 1024, PromptConfig(**config)).to_map()


def test_one_blob_box_point_score_and_area() -> None:
    prob = np.zeros(MAP_SIZE, dtype=np.float32)
    prob[50:100, 100:180] = 0.9  # rows 50..99, columns 100..179
    prob[70, 150] = 0.99
    prompts = _in_map(prob)
    assert not prompts.empty and len(prompts) == 1
    np.testing.assert_array_equal(prompts.boxes, [[100, 50, 180, 100]])
    np.testing.assert_array_equal(prompts.points, [[150.5, 70.5]])  # centre of the peak pixel
    np.testing.assert_array_equal(prompts.point_labels, [1])
    np.testing.assert_array_equal(prompts.areas, [50 * 80])
    assert prompts.scores[0] == pytest.approx((0.9 * 3999 + 0.99) / 4000, rel=1e-6)
    assert prompts.mask_logits is not None and prompts.mask_logits.shape == (256, 256)
    assert prompts.mask_logits.dtype == np.float32


def test_two_blobs_largest_first_and_cap_respected() -> None:
    prob = np.zeros(MAP_SIZE, dtype=np.float32)
    prob[10:30, 10:30] = 0.8  # 400 px, first in raster order
    prob[100:160, 200:260] = 0.8  # 3600 px, the largest
    prob[200:230, 300:340] = 0.8  # 1200 px
    prompts = _in_map(prob, max_components=2)
    np.testing.assert_array_equal(prompts.areas, [3600, 1200])
    np.testing.assert_array_equal(prompts.boxes, [[200, 100, 260, 160], [300, 200, 340, 230]])
    three = _in_map(prob, max_components=3)
    np.testing.assert_array_equal(three.areas, [3600, 1200, 400])
    assert three.boxes.shape == (3, 4) and three.points.shape == (3, 2)


def test_empty_map_gives_no_prompt() -> None:
    for prob in (np.zeros(MAP_SIZE, np.float32), np.full(MAP_SIZE, 0.49, np.float32)):
        prompts = prompts_from_probability(prob, (576, 720))
        assert prompts.empty and len(prompts) == 0
        assert prompts.mask_logits is None  # the caller skips SAM
        assert prompts.boxes.shape == (0, 4) and prompts.points.shape == (0, 2)
        assert prompts.to_frame().empty


def test_threshold_respected() -> None:
    prob = np.zeros(MAP_SIZE, dtype=np.float32)
    prob[40:80, 40:80] = 0.6
    prob[150:200, 250:300] = 0.5  # exactly at the threshold: not above it
    assert len(_in_map(prob, threshold=0.5)) == 1
    assert _in_map(prob, threshold=0.7).empty
    both = _in_map(prob, threshold=0.45)
    np.testing.assert_array_equal(both.areas, [2500, 1600])


def test_tiny_noise_blobs_under_the_floor_dropped() -> None:
    prob = np.zeros(MAP_SIZE, dtype=np.float32)
    prob[100:140, 200:260] = 0.9
    for row, col in [(5, 5), (20, 400), (230, 30), (240, 420), (60, 300)]:
        prob[row : row + 5, col : col + 5] = 1.0  # 25 px each, brighter than the polyp
    prompts = _in_map(prob, max_components=10)
    np.testing.assert_array_equal(prompts.boxes, [[200, 100, 260, 140]])
    assert len(_in_map(prob, max_components=10, min_area=25)) == 6
    # Noise alone -> no prompt at all.
    prob[100:140, 200:260] = 0.0
    assert _in_map(prob, max_components=10).empty


def test_point_is_on_its_component_even_when_a_brighter_blob_shares_the_box() -> None:
    prob = np.zeros(MAP_SIZE, dtype=np.float32)
    prob[50:150, 50:60] = 0.7  # an L: vertical bar ...
    prob[140:150, 50:200] = 0.7  # ... and horizontal bar
    prob[60:100, 100:140] = 0.95  # separate, brighter, inside the L's box, smaller
    prompts = _in_map(prob)
    assert len(prompts) == 2 and prompts.areas[0] > prompts.areas[1]
    x, y = prompts.points[0]
    assert prob[int(y), int(x)] == pytest.approx(0.7)


@pytest.mark.parametrize("frame_size", FRAME_SIZES)
def test_blob_touching_the_border_maps_to_the_frame_border(frame_size: tuple[int, int]) -> None:
    prob = np.zeros(MAP_SIZE, dtype=np.float32)
    prob[0:50, 0:60] = 0.9  # top-left corner, 3000 px
    prob[200:256, 400:448] = 0.8  # bottom-right corner, 2688 px
    prompts = prompts_from_probability(prob, frame_size, config=PromptConfig(use_mask=False))
    height, width = frame_size
    frame = prompts.to_frame()
    np.testing.assert_allclose(
        frame.boxes,
        [
            [0, 0, 60 * width / 448, 50 * height / 256],
            [400 * width / 448, 200 * height / 256, width, height],
        ],
        rtol=1e-6,
    )
    assert frame.boxes[1, 2] == width and frame.boxes[1, 3] == height  # exactly, no round-off
    newh, neww = sam_input_size(frame_size, 1024)
    assert prompts.boxes[1, 2] == neww and prompts.boxes[1, 3] == newh
    assert max(newh, neww) == 1024


@pytest.mark.parametrize("frame_size", FRAME_SIZES)
def test_frame_space_box_and_point_land_on_the_blob(frame_size: tuple[int, int]) -> None:
    height, width = frame_size
    # One map pixel is this many frame pixels; the box may be off by about one map pixel.
    tolerance = max(width / MAP_SIZE[1], height / MAP_SIZE[0]) + 1.0
    rng = np.random.default_rng(sum(frame_size))
    for _ in range(5):
        blob = _ellipse_mask(frame_size, rng)
        prompts = prompts_from_probability(_map_from_frame_mask(blob), frame_size)
        frame = prompts.to_frame()
        assert len(frame) == 1
        truth = _edge_box(blob)
        assert _iou(frame.boxes[0].astype(np.float64), truth) > 0.9
        np.testing.assert_allclose(frame.boxes[0], truth, atol=tolerance)
        x, y = frame.points[0]
        assert blob[int(y), int(x)] == 1


@pytest.mark.parametrize("frame_size", FRAME_SIZES)
@pytest.mark.parametrize("image_size", [1024, 256])
def test_sam_space_is_frame_space_scaled_as_sam_does(
    frame_size: tuple[int, int], image_size: int
) -> None:
    rng = np.random.default_rng(1)
    blob = _ellipse_mask(frame_size, rng)
    prompts = prompts_from_probability(_map_from_frame_mask(blob), frame_size, image_size)
    assert prompts.space == "sam"
    frame = prompts.to_frame()
    # Equal to frame * image_size / max(H, W) up to SAM's rounding of the resized size (< 0.5 px).
    scale = image_size / max(frame_size)
    np.testing.assert_allclose(prompts.boxes, frame.boxes * scale, atol=0.5)
    np.testing.assert_allclose(prompts.points, frame.points * scale, atol=0.5)
    # And exactly what segment-anything's own transform gives.
    transforms = pytest.importorskip("segment_anything.utils.transforms")
    resize = transforms.ResizeLongestSide(image_size)
    np.testing.assert_allclose(
        prompts.boxes, resize.apply_boxes(frame.boxes, frame_size), rtol=1e-6, atol=1e-3
    )
    np.testing.assert_allclose(
        prompts.points, resize.apply_coords(frame.points, frame_size), rtol=1e-6, atol=1e-3
    )
    # Round trip through every space.
    np.testing.assert_allclose(frame.to_map().to_sam().boxes, prompts.boxes, atol=1e-3)


@pytest.mark.parametrize("frame_size", FRAME_SIZES)
def test_dense_mask_prompt_is_positive_on_the_blob_and_negative_elsewhere(
    frame_size: tuple[int, int],
) -> None:
    rng = np.random.default_rng(2)
    blob = _ellipse_mask(frame_size, rng)
    config = PromptConfig()
    prompts = prompts_from_probability(_map_from_frame_mask(blob), frame_size, 1024, config)
    logits = prompts.mask_logits
    assert logits is not None and logits.shape == (256, 256)
    assert np.abs(logits).max() <= config.mask_logit_clip

    # Mapped back to the frame: positive over the blob, negative elsewhere, away from the edge
    # by two low-res pixels (the dense prompt's resolution).
    newh, neww = sam_input_size(frame_size, 1024)
    margin = int(np.ceil(2 * 4 * max(frame_size[1] / neww, frame_size[0] / newh)))
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    back = mask_logits_to_frame(logits, frame_size)
    assert back.shape == frame_size
    assert (back[cv2.erode(blob, kernel) == 1] > 0).all()
    assert (back[cv2.dilate(blob, kernel) == 0] < 0).all()

    # The padding (bottom/right of SAM's square) is the lowest logit.
    rows, cols = int(np.ceil(newh / 4)), int(np.ceil(neww / 4))
    assert (logits[rows:, :] == -config.mask_logit_clip).all()
    assert (logits[:, cols:] == -config.mask_logit_clip).all()

    # Independent reference: SAM's own preprocessing of the frame-space blob, padded and shrunk
    # to 256x256, agrees in sign away from the blob's outline.
    transforms = pytest.importorskip("segment_anything.utils.transforms")
    resized = transforms.ResizeLongestSide(1024).apply_image(np.repeat(blob[..., None] * 255, 3, 2))
    padded = np.zeros((1024, 1024), np.float32)
    padded[: resized.shape[0], : resized.shape[1]] = resized[..., 0] / 255.0
    reference = cv2.resize(padded, (256, 256), interpolation=cv2.INTER_AREA) > 0.5
    outline = cv2.dilate(reference.astype(np.uint8), np.ones((5, 5), np.uint8)) != cv2.erode(
        reference.astype(np.uint8), np.ones((5, 5), np.uint8)
    )
    np.testing.assert_array_equal((logits > 0)[~outline], reference[~outline])


def test_dense_mask_prompt_threshold_is_logit_zero() -> None:
    prob = np.zeros(MAP_SIZE, dtype=np.float32)
    prob[64:192, 112:336] = 0.6
    # A 512x512 frame: map -> frame -> SAM input is a plain 2x down then 2x up per axis.
    at_half = prompts_from_probability(prob, (512, 512)).mask_logits
    at_high = prompts_from_probability(prob, (512, 512), config=PromptConfig(threshold=0.55))
    assert at_half[128, 128] == pytest.approx(np.log(0.6 / 0.4), abs=1e-5)
    assert at_high.mask_logits[128, 128] == pytest.approx(
        np.log(0.6 / 0.4) - np.log(0.55 / 0.45), abs=1e-5
    )
    assert at_half[5, 5] == -10.0


def test_prompts_on_real_ground_truth_enclose_the_polyp(
    real_clip: list[tuple[np.ndarray, np.ndarray]],
) -> None:
    for frame, mask in real_clip:
        assert mask.any()
        prompts = prompts_from_probability(
            _map_from_frame_mask(mask), frame.shape[:2], config=PromptConfig(max_components=10)
        ).to_frame()
        assert not prompts.empty
        boxes = prompts.boxes
        union = np.array([*boxes[:, :2].min(0), *boxes[:, 2:].max(0)], dtype=np.float64)
        truth = _edge_box(mask)
        # Encloses the true polyp to within about one map pixel (1.125 frame px vertically).
        assert (union[:2] <= truth[:2] + 2).all() and (union[2:] >= truth[2:] - 2).all()
        assert _iou(union, truth) > 0.9
        for x, y in prompts.points:
            assert mask[int(y), int(x)] == 1


def test_inputs_flags_and_pixel_index_convention() -> None:
    prob = torch.zeros(1, 1, *MAP_SIZE)
    prob[..., 50:100, 100:180] = 0.9
    prompts = prompts_from_probability(prob, MAP_SIZE, config=PromptConfig(use_box=False))
    assert prompts.boxes is None and prompts.points is not None
    assert prompts.geometry == PromptGeometry(MAP_SIZE, MAP_SIZE, 1024)
    only_box = prompts_from_probability(
        prob[0, 0].numpy(), MAP_SIZE, config=PromptConfig(use_point=False, use_mask=False)
    ).to_map()
    assert only_box.points is None and only_box.point_labels is None
    assert only_box.mask_logits is None
    boxes, points = only_box.as_pixel_indices()
    np.testing.assert_array_equal(boxes, [[100, 50, 179, 99]])  # first and last pixel indices
    assert points is None
    with pytest.raises(ValueError):
        only_box.boxes[0, 0] = 1.0  # read-only
    with pytest.raises(ValueError, match="threshold"):
        PromptConfig(threshold=1.0)
    with pytest.raises(ValueError, match="prob_map"):
        prompts_from_probability(np.zeros((2, 3, 4)), MAP_SIZE)
