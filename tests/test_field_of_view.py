"""The field of view: a capture card's whole screen is cropped to the endoscope's picture, the
result pasted back; frames the picture nearly fills (the training data's kind) are left whole."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import models.pipeline.field_of_view as field_of_view
from models.pipeline import load_bundle
from models.pipeline.field_of_view import CONFIRM_FRAMES, FieldOfViewTracker, find_field_of_view
from models.segmenter import PolypSegmenter

BUNDLE = Path(__file__).resolve().parents[1] / "assets" / "model"
SCREEN = (1080, 1920)
PICTURE_HEIGHT, PICTURE_LEFT = 1000, 560
TEXT = ["ID 0012345", "DOE^JANE", "03/12/2026 10:42:17", "Zoom 1.0"]
TEXT_FONT, TEXT_SCALE, TEXT_LEFT = cv2.FONT_HERSHEY_SIMPLEX, 1.2, 30
TEXT_RIGHT = TEXT_LEFT + max(cv2.getTextSize(line, TEXT_FONT, TEXT_SCALE, 2)[0][0] for line in TEXT)


def on_screen(image: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """`image` scaled to 1000 px high on a black 1920x1080 screen, right of centre, as a video
    processor shows it; frames also get patient text on the left."""
    height, width = image.shape[:2]
    scaled = cv2.resize(image, (width * PICTURE_HEIGHT // height, PICTURE_HEIGHT),
                        interpolation=interpolation)
    screen = np.zeros(SCREEN + image.shape[2:], image.dtype)
    top = (SCREEN[0] - PICTURE_HEIGHT) // 2
    screen[top:top + PICTURE_HEIGHT, PICTURE_LEFT:PICTURE_LEFT + scaled.shape[1]] = scaled
    if image.ndim == 3:
        for row, line in enumerate(TEXT):
            cv2.putText(screen, line, (TEXT_LEFT, 80 + 60 * row), TEXT_FONT, TEXT_SCALE,
                        (235, 235, 235), 2, cv2.LINE_AA)
    return screen


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    prediction, truth = prediction.astype(bool), truth.astype(bool)
    return 2.0 * (prediction & truth).sum() / max(1, prediction.sum() + truth.sum())


@pytest.fixture(scope="module")
def bundled_segmenter() -> PolypSegmenter:
    bundle = load_bundle(BUNDLE)
    return PolypSegmenter(bundle.pns, bundle.samihs, bundle.prompt_config,
                          smoothing=bundle.smoothing)


def test_training_like_frames_are_left_whole(real_clip):
    for frame, _ in real_clip:  # CVC-ClinicDB: the picture fills ~82% of the width
        assert find_field_of_view(frame) is None
    assert find_field_of_view(np.zeros((1080, 1920, 3), np.uint8)) is None  # no picture at all


def test_the_picture_on_a_screen_is_found_and_the_text_left_out(real_clip):
    frame = real_clip[0][0]
    box = find_field_of_view(on_screen(frame))
    assert box is not None
    # The ClinicDB frame's own picture (its black margins inside) lies within the box, and the
    # patient text beside it does not.
    scale = PICTURE_HEIGHT / frame.shape[0]
    assert TEXT_RIGHT < PICTURE_LEFT and box.left > TEXT_RIGHT
    assert box.left <= PICTURE_LEFT + 42 * scale and box.right >= PICTURE_LEFT + 358 * scale
    assert box.top <= 40 + 14 * scale and box.bottom >= 40 + 280 * scale
    assert box.right - box.left < 0.75 * SCREEN[1]  # it removes most of the black canvas


def test_the_box_holds_over_a_few_odd_frames_and_follows_a_lasting_change(real_clip):
    screen = on_screen(real_clip[0][0])
    black = np.zeros_like(screen)
    tracker = FieldOfViewTracker()
    assert tracker.update(screen) is False  # the first frame sets the box
    first = tracker.current
    assert first is not None
    for _ in range(CONFIRM_FRAMES - 1):  # a short blackout does not move the picture
        assert tracker.update(black) is False and tracker.current == first
    assert tracker.update(screen) is False and tracker.current == first
    whole = real_clip[0][0]  # the source changes to frames the picture fills
    changes = [tracker.update(whole) for _ in range(CONFIRM_FRAMES)]
    assert changes == [False] * (CONFIRM_FRAMES - 1) + [True]
    assert tracker.current is None
    tracker.reset()
    assert tracker.update(screen) is False and tracker.current == first


def test_a_screen_is_segmented_as_its_picture_and_pasted_back(real_clip, bundled_segmenter):
    segmenter = bundled_segmenter
    cropped, pasted = [], []
    segmenter.reset()
    for frame, _ in real_clip:
        pasted.append(segmenter(on_screen(frame)))
    box = pasted[0].field_of_view
    assert box is not None and all(result.field_of_view == box for result in pasted)
    segmenter.reset()
    for frame, _ in real_clip:
        cropped.append(segmenter(box.crop(on_screen(frame))))
    inside = (slice(box.top, box.bottom), slice(box.left, box.right))
    for whole, part in zip(pasted, cropped, strict=True):
        assert whole.probability.shape == SCREEN and whole.mask.shape == SCREEN
        np.testing.assert_array_equal(whole.probability[inside], part.probability)
        outside = whole.probability.copy()
        outside[inside] = 0
        assert not outside.any()  # zeros outside the picture
        np.testing.assert_allclose(whole.boxes, part.boxes + box.offset)
    assert any(result.polyp_present for result in pasted)


def test_cropping_a_screen_finds_the_polyp_as_well_as_on_the_frame_itself(
    real_clip, bundled_segmenter, monkeypatch
):
    """The bundled model on 8 real frames: on the screen its masks are as good as on the frame
    itself (the resize back costs a little), and clearly better than on the uncropped screen."""

    def mean_dice() -> float:
        bundled_segmenter.reset()
        scores = []
        for frame, truth in real_clip:
            result = bundled_segmenter(on_screen(frame))
            scores.append(dice(result.mask, on_screen(truth, cv2.INTER_NEAREST)))
        return float(np.mean(scores))

    bundled_segmenter.reset()
    direct = np.mean([dice(bundled_segmenter(frame).mask, truth) for frame, truth in real_clip])
    cropped = mean_dice()
    monkeypatch.setattr(field_of_view, "MIN_MARGIN", 1.0)  # never crop: the screen resized whole
    whole = mean_dice()
    assert direct > 0.6
    assert cropped > direct - 0.05
    assert cropped > whole + 0.05


def test_a_map_of_the_whole_screen_is_cut_to_the_same_picture(real_clip):
    """A saved PNS+ map (a resize of the whole frame) is cut where the frame is cut."""
    screen = on_screen(real_clip[0][0])
    box = find_field_of_view(screen)
    lit = (screen.max(axis=2) > 0).astype(np.float32)
    saved = cv2.resize(lit, (448, 256), interpolation=cv2.INTER_AREA)
    cut = box.crop_resized(saved, SCREEN)
    expected = cv2.resize(box.crop(lit), (cut.shape[1], cut.shape[0]), interpolation=cv2.INTER_AREA)
    assert abs(cut.shape[0] / cut.shape[1] - box.crop(lit).shape[0] / box.crop(lit).shape[1]) < 0.02
    assert np.abs(cut - expected).mean() < 0.02
