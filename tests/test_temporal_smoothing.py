"""Presence hysteresis: fewer on/off toggles, no delay for confident detections, bounded hold."""

from __future__ import annotations

import numpy as np
import pytest

from models.pipeline.smoothing import PresenceHysteresis, SmoothingConfig


def blob(size: int = 32) -> np.ndarray:
    probability = np.zeros((size, size), np.float32)
    probability[8:20, 10:22] = 0.9
    return probability


NOTHING = np.zeros((32, 32), np.float32)


def shown(smoother: PresenceHysteresis, frames: list[tuple[np.ndarray, float]]) -> list[bool]:
    return [bool((smoother(p, s > 0, s).probability > 0.5).any()) for p, s in frames]


def toggles(flags: list[bool]) -> int:
    return sum(a != b for a, b in zip(flags, flags[1:], strict=False))


def test_short_misses_are_held_and_long_ones_switch_off() -> None:
    smoother = PresenceHysteresis(SmoothingConfig(on_score=0.6, hold_frames=3))
    # A polyp seen, missed for 2 frames, seen, then gone for good.
    frames = [(blob(), 0.9)] * 3 + [(NOTHING, 0.0)] * 2 + [(blob(), 0.9)] * 3 + [(NOTHING, 0.0)] * 6
    raw = [s > 0 for _, s in frames]
    result = shown(smoother, frames)
    assert toggles(raw) == 3 and toggles(result) == 1
    assert result[:8] == [True] * 8  # the gap is bridged with the last mask
    assert result[8:11] == [True] * 3 and result[11:] == [False] * 3  # off after 3 held frames


def test_held_frame_shows_the_last_detection() -> None:
    smoother = PresenceHysteresis()
    first = blob()
    smoother(first, True, 0.9)
    held = smoother(NOTHING, False, 0.0)
    assert held.held and held.probability is first


def test_confident_detection_shows_at_once_faint_one_on_its_second_frame() -> None:
    smoother = PresenceHysteresis(SmoothingConfig(on_score=0.6, hold_frames=2))
    assert shown(smoother, [(blob(), 0.9)]) == [True]  # no delay
    smoother.reset()
    faint = [(NOTHING, 0.0), (blob(), 0.55), (NOTHING, 0.0), (blob(), 0.55), (blob(), 0.55)]
    assert shown(smoother, faint) == [False, False, False, False, True]


def test_zero_config_passes_frames_through_and_bad_settings_fail() -> None:
    smoother = PresenceHysteresis(SmoothingConfig(on_score=0.0, hold_frames=0))
    flicker = [(blob(), 0.9), (NOTHING, 0.0)] * 3
    assert toggles(shown(smoother, flicker)) == 5
    with pytest.raises(ValueError, match="hold_frames"):
        SmoothingConfig(hold_frames=-1)
    with pytest.raises(ValueError, match="on_score"):
        SmoothingConfig(on_score=1.5)


def test_new_frame_size_resets_the_state() -> None:
    smoother = PresenceHysteresis()
    smoother(blob(32), True, 0.9)
    after = smoother(np.zeros((16, 16), np.float32), False, 0.0)
    assert not after.held and after.probability.shape == (16, 16)
