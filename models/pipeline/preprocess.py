"""The preprocess stage: one video frame -> PNS+'s input and SAM's input, on the model's device.

On CPU it is exactly the models' own preprocessing (models.pns_plus.frame_to_input,
models.samihs.preprocess_frame, with OpenCV), so a stream equals the offline segmenter. On CUDA
(`tensor_path`) the frame is uploaded once as uint8 and both inputs are resized and normalised
by torch on the GPU.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..pns_plus import frame_to_input
from ..samihs import FrameGeometry, preprocess_frame
from ..samihs.transforms import SAM_PIXEL_MEAN, SAM_PIXEL_STD

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")  # frames read from files


def check_frame(frame: object) -> np.ndarray:
    """The frame if it is (H, W, 3) uint8, else ValueError naming what it is."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", type(frame).__name__)
        raise ValueError(f"expected a colour frame of shape (H, W, 3), got {shape}")
    if frame.dtype != np.uint8:
        raise ValueError(f"expected a uint8 frame (0..255), got dtype {frame.dtype}")
    if min(frame.shape[:2]) < 2:
        raise ValueError(f"frame too small: {frame.shape[1]}x{frame.shape[0]}")
    return frame


class FramePreprocessor:
    """Holds the current frame; gives PNS+ input (1, 3, H, W) in [0, 1] RGB and SAM input
    (1, 3, S, S) normalised and padded, with its FrameGeometry."""

    def __init__(
        self,
        pns_size: tuple[int, int],
        sam_size: int,
        channel_order: str = "BGR",
        device: torch.device | str = "cpu",
        tensor_path: bool | None = None,
    ) -> None:
        """tensor_path: resize with torch on `device` (default: when the device is CUDA)."""
        if channel_order not in ("RGB", "BGR"):
            raise ValueError(f"channel_order must be 'RGB' or 'BGR', got {channel_order!r}")
        self.pns_size = pns_size
        self.sam_size = sam_size
        self.channel_order = channel_order
        self.device = torch.device(device)
        self.tensor_path = self.device.type == "cuda" if tensor_path is None else tensor_path
        self._frame: np.ndarray | None = None
        self._on_device: torch.Tensor | None = None  # (1, 3, H, W) float RGB 0..255 on device
        mean = torch.tensor(SAM_PIXEL_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(SAM_PIXEL_STD).view(1, 3, 1, 1)
        self._mean, self._std = mean.to(self.device), std.to(self.device)

    def start(self, frame: np.ndarray) -> None:
        """Takes a new frame (H, W, 3) uint8; on the tensor path uploads it once."""
        self._frame = check_frame(frame)
        self._on_device = None
        if self.tensor_path:
            image = torch.from_numpy(np.ascontiguousarray(frame)).to(self.device)
            image = image.permute(2, 0, 1).unsqueeze(0).float()
            self._on_device = image.flip(1) if self.channel_order == "BGR" else image

    @property
    def frame_size(self) -> tuple[int, int]:
        assert self._frame is not None, "call start(frame) first"
        return self._frame.shape[0], self._frame.shape[1]

    def pns_input(self) -> torch.Tensor:
        if self._on_device is None:
            pns = frame_to_input(self._frame, self.pns_size, bgr=self.channel_order == "BGR")
            return pns.to(self.device)
        resized = F.interpolate(self._on_device, self.pns_size, mode="bilinear",
                                align_corners=False)
        return resized.clamp_(0, 255).div_(255.0)

    def sam_input(self) -> tuple[torch.Tensor, FrameGeometry]:
        if self._on_device is None:
            return preprocess_frame(self._frame, self.sam_size, self.channel_order, self.device)
        geometry = FrameGeometry(self.frame_size, self.sam_size)
        height, width = geometry.resized_size
        shrinking = height < self.frame_size[0]
        resized = F.interpolate(self._on_device, (height, width), mode="bilinear",
                                align_corners=False, antialias=shrinking)
        image = (resized - self._mean) / self._std
        image = F.pad(image, (0, self.sam_size - width, 0, self.sam_size - height))
        return image, geometry
