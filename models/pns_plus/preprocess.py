"""From a video frame to PNS+'s input tensor."""

from __future__ import annotations

import cv2
import numpy as np
import torch


def frame_to_input(
    frame: np.ndarray, input_size: tuple[int, int] = (256, 448), bgr: bool = True
) -> torch.Tensor:
    """Resizes a uint8 colour frame of any size to PNS+'s input.

    Arguments:
      frame: (h, w, 3) uint8, BGR as OpenCV reads it (bgr=True) or RGB (bgr=False).
      input_size: (H, W) of the network.
    Returns:
      (1, 3, H, W) float32 in [0, 1], RGB (the released network was trained on RGB frames).
    """
    tensor = torch.from_numpy(resize_to_rgb(frame, input_size, bgr)).permute(2, 0, 1)
    return tensor.float().div_(255.0).unsqueeze(0)


def resize_to_rgb(
    frame: np.ndarray, input_size: tuple[int, int] = (256, 448), bgr: bool = True
) -> np.ndarray:
    """The one resize of a frame to PNS+'s input: (h, w, 3) uint8 -> (H, W, 3) uint8 RGB
    (bilinear; training augments these uint8 pixels before scaling them as frame_to_input)."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(
            f"expected an (h, w, 3) uint8 frame, got {frame.dtype} of shape {frame.shape}"
        )
    height, width = input_size
    resized = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(resized, cv2.COLOR_BGR2RGB) if bgr else np.ascontiguousarray(resized)
