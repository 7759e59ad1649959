"""Frame <-> SAM input geometry: resize longest side, pad, normalise, and map results back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F

SAM_PIXEL_MEAN = (123.675, 116.28, 103.53)  # RGB, 0..255
SAM_PIXEL_STD = (58.395, 57.12, 57.375)
LOW_RES_SIZE = 256  # side of the mask logits SAMIHS returns and accepts as a mask prompt

ChannelOrder = Literal["RGB", "BGR"]


@dataclass(frozen=True)
class FrameGeometry:
    """How a frame of `frame_size` (H, W) sits in SAM's padded `image_size` square."""

    frame_size: tuple[int, int]
    image_size: int

    @property
    def scale(self) -> float:
        return self.image_size / max(self.frame_size)

    @property
    def resized_size(self) -> tuple[int, int]:
        """(H', W') of the frame inside the square, as SAM's ResizeLongestSide computes it."""
        height, width = self.frame_size
        return int(height * self.scale + 0.5), int(width * self.scale + 0.5)

    def frame_to_input(self, coords: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Maps (..., 2) x, y (or (..., 4) boxes) in frame pixels to SAM input pixels."""
        resized_h, resized_w = self.resized_size
        height, width = self.frame_size
        factors = _xy_factors(coords, resized_w / width, resized_h / height)
        return coords * factors

    def input_to_frame(self, coords: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Inverse of `frame_to_input`."""
        resized_h, resized_w = self.resized_size
        height, width = self.frame_size
        factors = _xy_factors(coords, width / resized_w, height / resized_h)
        return coords * factors


def _xy_factors(coords, fx: float, fy: float):
    last = coords.shape[-1]
    if last not in (2, 4):
        raise ValueError(f"coordinates must end in 2 (x, y) or 4 (box), got shape {coords.shape}")
    values = [fx, fy] * (last // 2)
    if isinstance(coords, torch.Tensor):
        return torch.tensor(values, dtype=coords.dtype, device=coords.device)
    return np.asarray(values, dtype=np.float64)


def preprocess_frame(
    frame: np.ndarray,
    image_size: int,
    channel_order: ChannelOrder,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, FrameGeometry]:
    """Turns a uint8 frame (H, W, 3) into SAM's input (1, 3, S, S) and its geometry.

    The longest side is resized to `image_size` (area filter when shrinking, so small inputs do
    not alias), normalised with SAM's mean/std, then zero-padded at the bottom/right.
    """
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", type(frame).__name__)
        raise ValueError(f"expected a colour frame of shape (H, W, 3), got {shape}")
    if frame.dtype != np.uint8:
        raise ValueError(f"expected a uint8 frame (0..255), got dtype {frame.dtype}")
    if channel_order not in ("RGB", "BGR"):
        raise ValueError(f"channel_order must be 'RGB' or 'BGR', got {channel_order!r}")
    geometry = FrameGeometry((frame.shape[0], frame.shape[1]), image_size)
    resized_h, resized_w = geometry.resized_size
    shrinking = resized_h < frame.shape[0]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (resized_w, resized_h), interpolation=interpolation)
    if channel_order == "BGR":
        resized = resized[:, :, ::-1]
    image = torch.from_numpy(np.ascontiguousarray(resized)).to(device)
    image = image.permute(2, 0, 1).float()
    mean = torch.tensor(SAM_PIXEL_MEAN, device=device).view(3, 1, 1)
    std = torch.tensor(SAM_PIXEL_STD, device=device).view(3, 1, 1)
    image = (image - mean) / std
    image = F.pad(image, (0, image_size - resized_w, 0, image_size - resized_h))
    return image.unsqueeze(0), geometry


def logits_to_frame(logits: torch.Tensor, geometry: FrameGeometry) -> torch.Tensor:
    """Maps low-res logits (B, 1, h, w) in SAM's padded square to (B, 1, H, W) in the frame."""
    if logits.ndim != 4:
        raise ValueError(f"expected logits of shape (B, 1, h, w), got {tuple(logits.shape)}")
    size = geometry.image_size
    resized_h, resized_w = geometry.resized_size
    upscaled = F.interpolate(logits, (size, size), mode="bilinear", align_corners=False)
    cropped = upscaled[..., :resized_h, :resized_w]
    return F.interpolate(cropped, geometry.frame_size, mode="bilinear", align_corners=False)


def probability_in_frame(logits: torch.Tensor, geometry: FrameGeometry) -> np.ndarray:
    """Logits (1, 1, h, w) in SAM's padded square -> (H, W) float32 probability in the frame."""
    return logits_to_frame(logits.float(), geometry)[0, 0].sigmoid().cpu().numpy()
