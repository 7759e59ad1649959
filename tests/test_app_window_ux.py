"""The window as a new user meets it (Qt offscreen, a real clip): help panel on H, O while
paused, notices that never move the picture, a useful first size, a status line that never
wraps, and the presence strip."""

from __future__ import annotations

import cv2
import numpy as np
from app_testkit import FailingSegmenter, MaskLookupSegmenter, SlowSegmenter
from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QImage
from test_app_window import grab_view, open_window, wait_for_mode

from app.config import LiveConfig
from app.overlay import OverlayMode
from app.presence_strip import WINDOW_S
from app.window import MIN_VIDEO_WIDTH, SCREEN_SHARE, initial_size


def grab(widget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    bits = image.constBits()
    bits.setsize(image.sizeInBytes())
    rows = np.frombuffer(bits, np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def wait_until_still(qtbot, window, quiet_ms: int = 300) -> None:
    """After pausing: until frames already captured have been shown and no new one comes."""
    for _ in range(20):
        before = window.frames_shown
        qtbot.wait(quiet_ms)
        if window.frames_shown == before and len(window.pipeline.frames) == 0:
            return
    raise AssertionError("frames kept coming while paused")


def test_h_shows_and_hides_a_help_panel_with_keys_colours_and_thresholds(qtbot, clip_path,
                                                                         real_clip):
    config = LiveConfig(source=str(clip_path), loop=True, stale_after_s=0.4, hide_after_s=2.5)
    window = open_window(qtbot, config, MaskLookupSegmenter(real_clip))
    qtbot.waitUntil(lambda: window.frames_shown > 0, timeout=20_000)
    assert not window.help_panel.isVisible()
    view_geometry = window.view.geometry()
    qtbot.keyClick(window, Qt.Key.Key_H)
    assert window.help_panel.isVisible()
    text = window.help_panel.text()
    for expected in ("Space", "pause", "overlay on / off", "snapshot", "threshold", "STALE",
                     "amber", "0.4 s", "2.5 s", "model's own mask", "OVERLAY OFF"):
        assert expected in text, expected
    panel = window.help_panel.geometry()
    assert window.view.rect().contains(panel)  # over the video, inside it
    assert panel.width() > 200 and panel.height() > 150
    qtbot.keyClick(window, Qt.Key.Key_Plus)
    assert "above 0.55" in window.help_panel.text()  # the panel follows the threshold
    assert window.view.geometry() == view_geometry
    qtbot.keyClick(window, Qt.Key.Key_H)
    assert not window.help_panel.isVisible()
    window.close()


def test_o_while_paused_redraws_the_frame_without_and_with_the_mask(qtbot, clip_path, real_clip):
    window = open_window(qtbot, LiveConfig(source=str(clip_path), loop=True),
                         MaskLookupSegmenter(real_clip))
    qtbot.waitUntil(lambda: window.last_shown is not None and window.last_shown.mode
                    is OverlayMode.FRESH and window.last_shown.mask.sum() > 500, timeout=20_000)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.pipeline.capture.paused
    wait_until_still(qtbot, window)
    paused = window.last_shown
    with_mask = grab_view(window)
    assert not np.array_equal(paused.image, paused.raw)
    qtbot.keyClick(window, Qt.Key.Key_O)
    assert window.last_shown.index == paused.index
    assert window.last_shown.mode is OverlayMode.HIDDEN
    assert np.array_equal(window.last_shown.image, paused.raw)  # the same frame, no mask
    qtbot.waitUntil(lambda: np.abs(grab_view(window).astype(int) - with_mask).mean() > 0.5,
                    timeout=5_000)
    qtbot.keyClick(window, Qt.Key.Key_O)
    again = window.last_shown
    assert again.index == paused.index and again.mode is OverlayMode.FRESH
    changed = np.abs(again.image.astype(int) - paused.raw).max(axis=2) > 0
    assert changed.sum() > 300  # the mask is drawn again (the model's newest result for it) ...
    near_mask = cv2.dilate(again.mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert not (changed & ~near_mask).any()  # ... and only there
    window.close()


def test_a_paused_frame_gets_its_own_mask_once_the_model_has_it(qtbot, clip_path, real_clip):
    # A model slower than the source: when Space is pressed the frame on screen carries the mask
    # of an earlier frame; paused, it must get its own as soon as the model has finished it.
    segmenter = SlowSegmenter(real_clip, delay=0.25)
    window = open_window(qtbot, LiveConfig(source=str(clip_path), loop=True), segmenter)
    qtbot.waitUntil(lambda: window.last_shown is not None and window.last_shown.mask is not None,
                    timeout=20_000)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    wait_until_still(qtbot, window)
    paused = window.last_shown
    own = segmenter.masks[segmenter.nearest(paused.raw)]
    qtbot.waitUntil(lambda: window.last_shown.record.result_frame == paused.record.frame,
                    timeout=5_000)
    shown = window.last_shown
    assert shown.index == paused.index and shown.mode is OverlayMode.FRESH
    assert np.array_equal(shown.mask, own)
    window.close()


def test_notices_and_errors_float_over_the_video_without_moving_it(qtbot, clip_path, real_clip):
    window = open_window(qtbot, LiveConfig(source=str(clip_path), loop=True),
                         MaskLookupSegmenter(real_clip))
    qtbot.waitUntil(lambda: window.frames_shown > 0, timeout=20_000)
    view_before, image_before = window.view.geometry(), window.view.image_rect()
    qtbot.keyClick(window, Qt.Key.Key_O)
    qtbot.waitUntil(window.notice.isVisible, timeout=5_000)
    assert window.notice.text() == "overlay off" and not window.banner.isVisible()
    assert window.view.geometry() == view_before and window.view.image_rect() == image_before
    assert window.view.rect().contains(window.notice.geometry())
    # neutral, not the error red: the notice's pixels are grey, the banner's are red
    notice = grab(window.notice).reshape(-1, 3).astype(int)
    assert np.abs(notice[:, 0] - notice[:, 2]).mean() < 20
    window.close()

    failing = open_window(qtbot, LiveConfig(source=str(clip_path), loop=True), FailingSegmenter())
    qtbot.waitUntil(lambda: failing.frames_shown > 0, timeout=20_000)
    view_before = failing.view.geometry()
    qtbot.waitUntil(failing.banner.isVisible, timeout=20_000)
    assert failing.banner.text().startswith("model error")
    assert failing.view.geometry() == view_before
    banner = grab(failing.banner).reshape(-1, 3).astype(int)
    assert (banner[:, 0] - banner[:, 2]).mean() > 60  # red
    failing.close()


def test_initial_size_is_useful_fits_the_screen_and_keeps_the_aspect():
    chrome = 60
    # a small source on a desktop screen opens at least MIN_VIDEO_WIDTH wide
    size = initial_size(QSize(384, 288), QSize(1920, 1080), chrome)
    assert size.width() >= MIN_VIDEO_WIDTH
    assert abs(size.width() / (size.height() - chrome) - 384 / 288) < 0.01
    # a 4K source on a laptop screen is shrunk to fit it
    size = initial_size(QSize(3840, 2160), QSize(1366, 768), chrome)
    assert size.width() <= 1366 * SCREEN_SHARE and size.height() <= 768 * SCREEN_SHARE + 1
    assert abs(size.width() / (size.height() - chrome) - 16 / 9) < 0.01
    # a screen too small for 960 px: as large as it allows
    size = initial_size(QSize(384, 288), QSize(800, 600), chrome)
    assert size.height() <= 600 * SCREEN_SHARE + 1 and size.width() > 384


def test_the_window_opens_at_that_size_within_the_screen(qtbot, clip_path, real_clip):
    window = open_window(qtbot, LiveConfig(source=str(clip_path), loop=True),
                         MaskLookupSegmenter(real_clip))
    qtbot.waitUntil(lambda: window.frames_shown > 0, timeout=20_000)
    screen = window.screen().availableSize()
    assert window.width() <= screen.width() and window.height() <= screen.height()
    assert window.width() >= min(MIN_VIDEO_WIDTH, int(screen.width() * SCREEN_SHARE)) - 1
    rect = window.view.image_rect()
    assert abs(rect.width() / rect.height() - 384 / 288) < 0.02
    assert rect.width() > 384  # larger than the clip's native 384x288
    window.close()


def test_status_line_never_wraps_it_elides(qtbot, clip_path, real_clip):
    window = open_window(qtbot, LiveConfig(source=str(clip_path), loop=True),
                         MaskLookupSegmenter(real_clip))
    qtbot.waitUntil(lambda: "overlay" in window.status.text(), timeout=20_000)
    one_line = window.status.height()
    assert one_line < 2 * window.status.fontMetrics().height()
    window.resize(420, 500)
    qtbot.waitUntil(lambda: abs(window.width() - 420) <= 1, timeout=5_000)
    qtbot.wait(200)
    status = window.status
    assert status.height() == one_line  # still one line
    full, shown = status.text(), status.displayed_text()
    assert full.startswith("source") and "overlay" in full
    assert shown.endswith("\u2026") and len(shown) < len(full)
    assert status.fontMetrics().horizontalAdvance(shown) <= status.width()
    assert status.toolTip() == full
    window.close()


def test_presence_strip_shows_the_polyp_in_the_overlay_colour(qtbot, clip_path, real_clip):
    window = open_window(qtbot, LiveConfig(source=str(clip_path), loop=True),
                         MaskLookupSegmenter(real_clip))
    wait_for_mode(qtbot, window, OverlayMode.FRESH)
    qtbot.waitUntil(lambda: len(window.strip.samples) > 20, timeout=20_000)
    window.pipeline.toggle_pause()  # hold the strip still while it is inspected
    wait_until_still(qtbot, window)
    strip = grab(window.strip)
    green = (strip[..., 1] > 200) & (strip[..., 0] < 60)  # the default #00ff80
    assert green.any()
    samples = window.strip.samples
    span = samples[-1][0] - samples[0][0]
    assert span < WINDOW_S
    filled = 1.0 - green.any(axis=0).argmax() / strip.shape[1]
    assert filled <= span / WINDOW_S + 0.02  # time runs right to left; nothing older drawn
    window.close()
