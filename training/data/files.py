"""Reading frames and masks, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from models.pipeline import probability_to_grey

from ..errors import DataError
from .layout import FrameFiles


def read_frame(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 BGR, as OpenCV reads it."""
    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise DataError(f"{path}: cannot read this image; is it a damaged or non-image file?")
    return frame


def read_mask(
    path: Path, frame_size: tuple[int, int] | None = None, frame: Path | None = None
) -> np.ndarray:
    """(H, W) uint8 in {0, 1}: grey level > 128, the benchmark's binarisation.

    frame_size: (H, W) the mask must have (its frame's), checked when given.
    """
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise DataError(f"{path}: cannot read this mask; is it a damaged or non-image file?")
    if frame_size is not None and mask.shape[:2] != tuple(frame_size):
        height, width = mask.shape[:2]
        raise DataError(
            f"{path}: mask is {width}x{height} but its frame {frame} is "
            f"{frame_size[1]}x{frame_size[0]}; a mask must have its frame's size"
        )
    return (mask > 128).astype(np.uint8)


def read_pair(record: FrameFiles) -> tuple[np.ndarray, np.ndarray]:
    """A frame (H, W, 3) BGR uint8 and its mask (H, W) uint8 {0, 1}, sizes checked."""
    frame = read_frame(record.image)
    return frame, read_mask(record.mask, frame.shape[:2], record.image)


def read_map(path: Path) -> np.ndarray:
    """A saved probability map (grey PNG) as (H, W) float32 in [0, 1]."""
    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise DataError(
            f"{path}: PNS+ map missing or unreadable; write the maps with "
            "`polyp-train pns --predict` (one grey PNG per frame, <case>/<name>.png)"
        )
    return grey.astype(np.float32) / 255.0


def write_map(path: Path, probability: np.ndarray) -> None:
    """Writes (H, W) probabilities in [0, 1] as an 8-bit grey PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    grey = probability_to_grey(probability)
    if not cv2.imwrite(str(path), grey):
        raise DataError(f"{path}: cannot write the map; is the folder writable?")
