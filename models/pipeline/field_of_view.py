"""The field of view: where the endoscope's picture lies in a captured frame.

A capture card delivers the video processor's whole screen: the round or octagonal endoscope
picture on a black canvas, often 16:9, with patient and device text beside it. The networks were
trained on frames that the picture nearly fills (CVC-ClinicDB, Kvasir-SEG). Resized whole, a
1920x1080 screen gives the polyp a fraction of the pixels it had in training and squeezes PNS+'s
input sideways. So a frame with wide black margins is cropped to the picture before the
preprocess stage, and the result is pasted back into the frame (zeros outside). Frames the
picture nearly fills are left whole, exactly as in training.

The box is found on a subsample (about 0.3 ms for a 1080p frame) and kept steady over a
stream: a different box replaces it only when found on `CONFIRM_FRAMES` frames in a row, so a
dark frame, a menu or a flash does not move the picture under the temporal model; when it does
change, the stream restarts (the temporal model never mixes two crops).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

BLACK_LEVEL = 24  # a pixel whose brightest channel is at or under this is canvas (JPEG noise ~<10)
LIT_SHARE = 0.3  # a column (row) is picture when this share of it is lit; a text line lights ~5%
# Crop only when the canvas takes at least this share of the width or of the height. In the
# training frames the picture fills at least 77% of the width and 84% of the height (CVC-ClinicDB;
# 87% and 92% for 99% of Kvasir-SEG), so those are left whole.
MIN_MARGIN = 0.25
# A crop keeps this share of the box's side as black margin on each side, as training frames have.
MARGIN_KEPT = 0.05
MIN_SIDE = 0.25  # a box under this share of the frame's side is a dark frame, not a picture
SAMPLE_SIDE = 320  # the subsample's longest side, in pixels
CONFIRM_FRAMES = 3  # frames in a row that must show a new box before it replaces the current one
SAME_BOX = 0.02  # boxes whose edges differ by under this share of the frame are the same box


@dataclass(frozen=True)
class FieldOfView:
    """The crop around the picture, in frame pixels: rows top..bottom-1, columns
    left..right-1."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def offset(self) -> np.ndarray:
        """(4,) float32 to add to x1, y1, x2, y2 boxes in the crop to put them in the frame."""
        return np.float32([self.left, self.top, self.left, self.top])

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The picture part of a frame or of a mask of the frame's size, contiguous."""
        return np.ascontiguousarray(image[self.top:self.bottom, self.left:self.right])

    def crop_resized(self, image: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
        """The picture part of a map that is a resize of the whole frame (a saved PNS+ map)."""
        sy, sx = image.shape[0] / frame_size[0], image.shape[1] / frame_size[1]
        top, left = int(self.top * sy), int(self.left * sx)
        bottom = max(top + 1, int(round(self.bottom * sy)))
        right = max(left + 1, int(round(self.right * sx)))
        return np.ascontiguousarray(image[top:bottom, left:right])

    def paste(self, image: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
        """A picture-sized map placed in a frame-sized one, zeros (False) outside."""
        whole = np.zeros(frame_size, image.dtype)
        whole[self.top:self.bottom, self.left:self.right] = image
        return whole

    def same_as(self, other: FieldOfView, frame_size: tuple[int, int]) -> bool:
        """Whether two boxes differ by under `SAME_BOX` of the frame on every edge."""
        height, width = frame_size
        return (
            max(abs(self.top - other.top), abs(self.bottom - other.bottom)) <= SAME_BOX * height
            and max(abs(self.left - other.left), abs(self.right - other.right)) <= SAME_BOX * width
        )


def find_field_of_view(frame: np.ndarray) -> FieldOfView | None:
    """The picture's box in a (H, W, 3) uint8 frame, or None when the frame needs no crop (the
    picture nearly fills it) or shows no picture (a black or near-black frame)."""
    height, width = frame.shape[:2]
    scale = min(1.0, SAMPLE_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    sample = cv2.resize(frame, size, interpolation=cv2.INTER_NEAREST)
    brightest = cv2.max(cv2.max(sample[:, :, 0], sample[:, :, 1]), sample[:, :, 2])
    lit = brightest > BLACK_LEVEL
    left, right = _lit_span(lit.mean(axis=0) >= LIT_SHARE)
    if right - left < MIN_SIDE * lit.shape[1]:
        return None
    top, bottom = _lit_span(lit[:, left:right].mean(axis=1) >= LIT_SHARE)
    if bottom - top < MIN_SIDE * lit.shape[0]:
        return None
    sy, sx = height / lit.shape[0], width / lit.shape[1]
    top, bottom = int(top * sy), min(height, round(bottom * sy))
    left, right = int(left * sx), min(width, round(right * sx))
    if bottom - top > (1 - MIN_MARGIN) * height and right - left > (1 - MIN_MARGIN) * width:
        return None
    pad_y, pad_x = round(MARGIN_KEPT * (bottom - top)), round(MARGIN_KEPT * (right - left))
    return FieldOfView(
        top=max(0, top - pad_y),
        bottom=min(height, bottom + pad_y),
        left=max(0, left - pad_x),
        right=min(width, right + pad_x),
    )


def _lit_span(flags: np.ndarray) -> tuple[int, int]:
    """(first, last + 1) of the True entries of a 1-D array; (0, 0) when there is none. From
    first to last, not the longest run: a dark lumen can leave a band of the picture unlit."""
    lit = np.flatnonzero(flags)
    return (int(lit[0]), int(lit[-1]) + 1) if lit.size else (0, 0)


class FieldOfViewTracker:
    """The field of view of one stream, steady across frames (see the module docstring)."""

    def __init__(self) -> None:
        self.current: FieldOfView | None = None  # None: frames are used whole
        self._started = False
        self._candidate: FieldOfView | None = None
        self._seen = 0  # frames in a row that showed the candidate

    def reset(self) -> None:
        """New stream: the next frame's box is taken at once."""
        self.current, self._started, self._candidate, self._seen = None, False, None, 0

    def update(self, frame: np.ndarray) -> bool:
        """Finds the box in `frame`; True when the stream's box changed on this frame (the
        stream restarts then: earlier frames were cropped differently). The first frame of a
        stream sets the box without counting as a change."""
        found = find_field_of_view(frame)
        size = frame.shape[:2]
        if not self._started:
            self._started, self.current = True, found
            return False
        if _same(found, self.current, size):
            self._candidate, self._seen = None, 0
            return False
        if _same(found, self._candidate, size):
            self._seen += 1
        else:
            self._candidate, self._seen = found, 1
        if self._seen < CONFIRM_FRAMES:
            return False
        self.current, self._candidate, self._seen = found, None, 0
        return True


def _same(a: FieldOfView | None, b: FieldOfView | None, size: tuple[int, int]) -> bool:
    if a is None or b is None:
        return a is b
    return a.same_as(b, size)
