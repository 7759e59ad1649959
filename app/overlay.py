"""The overlay renderer: translucent mask fill + contour at the frame's native resolution.

A fresh result is drawn in the overlay colour; a stale one (older than the stale age) in amber
with a half-strength fill and a 'STALE' tag; past the hide age only a tag says the overlay is off.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np

STALE_BGR = (0, 191, 255)  # amber
ALERT_BGR = (60, 60, 255)  # red
INFO_BGR = (220, 220, 220)


class OverlayMode(str, Enum):
    """How the mask appears on a frame."""

    FRESH = "fresh"  # result recent enough: overlay colour
    STALE = "stale"  # older than stale age: amber, tagged
    OFF = "off"  # older than hide age (or model failing): hidden, tagged
    WAITING = "waiting"  # no result yet
    HIDDEN = "hidden"  # the user turned the overlay off


@dataclass(frozen=True)
class OverlayStyle:
    color_bgr: tuple[int, int, int] = (128, 255, 0)
    opacity: float = 0.35


def line_thickness(shape: tuple[int, ...]) -> int:
    """Contour width that looks the same at 288p and 2160p: ~1 px per 270 rows."""
    return max(1, round(min(shape[0], shape[1]) / 270))


def draw_mask(
    image: np.ndarray, mask: np.ndarray, color_bgr: tuple[int, int, int], opacity: float
) -> None:
    """In place: blends `color_bgr` over mask pixels at `opacity` and draws the mask's contour."""
    if mask.shape != image.shape[:2]:
        mask = cv2.resize(
            mask.astype(np.uint8), (image.shape[1], image.shape[0]),
            interpolation=cv2.INTER_NEAREST,
        ).astype(bool)
    if not mask.any():
        return
    if opacity > 0:
        pixels = image[mask].astype(np.float32)
        color = np.asarray(color_bgr, np.float32)
        image[mask] = (pixels * (1.0 - opacity) + color * opacity + 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    cv2.drawContours(image, contours, -1, color_bgr, line_thickness(image.shape), cv2.LINE_AA)


def draw_tag(image: np.ndarray, text: str, color_bgr: tuple[int, int, int]) -> None:
    """In place: a small label on a dark box in the top-left corner."""
    scale = max(0.4, image.shape[0] / 900)
    thickness = max(1, round(scale * 1.5))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(3, h // 3)
    cv2.rectangle(image, (0, 0), (w + 2 * pad, h + base + 2 * pad), (0, 0, 0), cv2.FILLED)
    cv2.putText(
        image, text, (pad, pad + h), cv2.FONT_HERSHEY_SIMPLEX, scale, color_bgr, thickness,
        cv2.LINE_AA,
    )


def render(
    frame: np.ndarray,
    mask: np.ndarray | None,
    mode: OverlayMode,
    style: OverlayStyle,
    tag: str = "",
) -> np.ndarray:
    """A copy of `frame` (H, W, 3) uint8 BGR with the overlay for `mode` and an optional tag."""
    image = frame.copy()
    if mask is not None and mode is OverlayMode.FRESH:
        draw_mask(image, mask, style.color_bgr, style.opacity)
    elif mask is not None and mode is OverlayMode.STALE:
        draw_mask(image, mask, STALE_BGR, style.opacity / 2)
    if tag:
        color = {OverlayMode.STALE: STALE_BGR, OverlayMode.OFF: ALERT_BGR}.get(mode, INFO_BGR)
        draw_tag(image, tag, color)
    return image
