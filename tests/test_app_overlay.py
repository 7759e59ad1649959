"""The overlay renderer on real frames: fill and contour where the mask is, nothing elsewhere."""

from __future__ import annotations

import cv2
import numpy as np

from app.config import LiveConfig, parse_color
from app.overlay import STALE_BGR, OverlayMode, OverlayStyle, line_thickness, render
from app.status import StreamStatus, status_line

STYLE = OverlayStyle(color_bgr=(128, 255, 0), opacity=0.4)


def _regions(mask: np.ndarray, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels well inside the mask, and well outside it (away from the contour)."""
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    inside = cv2.erode(mask.astype(np.uint8), kernel).astype(bool)
    outside = ~cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)
    return inside, outside


def test_fresh_overlay_blends_inside_the_mask_only(real_clip):
    frame, mask = real_clip[0]
    image = render(frame, mask.astype(bool), OverlayMode.FRESH, STYLE)
    assert image.shape == frame.shape and image.dtype == np.uint8
    inside, outside = _regions(mask, 3)
    assert inside.sum() > 500 and outside.sum() > 10_000
    expected = frame[inside] * 0.6 + np.array(STYLE.color_bgr) * 0.4
    assert np.abs(image[inside].astype(float) - expected).max() <= 1.0
    assert np.array_equal(image[outside], frame[outside])
    # the contour lies on the mask's edge, in the overlay colour
    eroded = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    edge = mask.astype(bool) & ~eroded
    on_edge = image[edge].astype(int)
    assert np.mean(np.all(np.abs(on_edge - STYLE.color_bgr) < 60, axis=1)) > 0.5


def test_stale_overlay_is_amber_and_tagged(real_clip):
    frame, mask = real_clip[1]
    fresh = render(frame, mask.astype(bool), OverlayMode.FRESH, STYLE)
    stale = render(frame, mask.astype(bool), OverlayMode.STALE, STYLE, tag="STALE 0.8 s")
    inside, outside = _regions(mask, 3)
    expected = frame[inside] * 0.8 + np.array(STALE_BGR) * 0.2
    assert np.abs(stale[inside].astype(float) - expected).max() <= 1.0
    assert not np.array_equal(stale[inside], fresh[inside])
    # the tag sits in the top-left corner on a dark box; the rest outside the mask is untouched
    assert stale[:3, :3].max() == 0
    tag = stale[:30, :120].reshape(-1, 3).astype(int)
    assert np.any(np.all(np.abs(tag - STALE_BGR) < 40, axis=1))
    below_tag = outside.copy()
    below_tag[:60] = False
    assert np.array_equal(stale[below_tag], frame[below_tag])


def test_off_and_hidden_draw_no_mask(real_clip):
    frame, mask = real_clip[2]
    for mode in (OverlayMode.OFF, OverlayMode.HIDDEN, OverlayMode.WAITING):
        image = render(frame, mask.astype(bool), mode, STYLE)
        assert np.array_equal(image, frame), mode


def test_native_resolution_and_mask_of_another_size(real_clip):
    frame, mask = real_clip[3]
    big = cv2.resize(frame, (1920, 1080))
    image = render(big, mask.astype(bool), OverlayMode.FRESH, STYLE)
    assert image.shape == (1080, 1920, 3)
    big_mask = cv2.resize(mask, (1920, 1080), interpolation=cv2.INTER_NEAREST).astype(bool)
    inside, outside = _regions(big_mask, 12)
    assert np.array_equal(image[outside], big[outside])
    assert np.abs(image[inside].astype(int) - big[inside]).mean() > 10
    assert line_thickness(image.shape) == 4 and line_thickness(frame.shape) == 1


def test_colour_and_opacity_come_from_the_config():
    config = LiveConfig(source="x", overlay_color="#ff8000", overlay_opacity=0.6).validate()
    assert config.color_bgr() == (0, 128, 255)
    assert parse_color("10,20,30") == (10, 20, 30)


def test_status_line_names_rates_backend_staleness_and_recording():
    status = StreamStatus(
        source_fps=25.0, model_fps=2.04, latency_ms=480.0, backend="torch-cpu",
        overlay=OverlayMode.STALE, result_age_s=0.64, mask_threshold=0.55, recording=True,
        recording_s=75.0,
    )
    line = status_line(status)
    for part in ("source 25.0 fps", "model 2.0 fps", "latency 480 ms", "torch-cpu",
                 "overlay stale 0.6 s", "thr 0.55", "REC 01:15"):
        assert part in line, (part, line)
