"""PNS+ training clips: the video's first frame as anchor + 5 consecutive frames."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from models.pns_plus import CLIP_FRAMES
from models.pns_plus.preprocess import resize_to_rgb

from .augment import still_motion, still_to_clip
from .files import read_pair
from .layout import FrameFiles, Video
from .seeding import EpochSeeded, seeded


def resize_frame(frame: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """BGR uint8 (h, w, 3) -> RGB uint8 (3, H, W), resized as models.pns_plus.frame_to_input."""
    return torch.from_numpy(resize_to_rgb(frame, size)).permute(2, 0, 1)


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """{0, 1} uint8 (h, w) -> {0, 1} uint8 (1, H, W) (bilinear, then >= 0.5)."""
    height, width = size
    soft = cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return torch.from_numpy((soft >= 0.5).astype(np.uint8)).unsqueeze(0)


def clip_windows(video: Video) -> list[int]:
    """Start indices of the 5-frame windows of a video.

    As in the public PNS+ code, windows start at frame 1 (frame 0 is the anchor) with stride 1;
    a video of 2..5 frames gives one window padded by repeating its last frame, a still image
    one window.
    """
    count = len(video)
    if video.still or count == 1:
        return [0]
    return list(range(1, max(1, count - CLIP_FRAMES) + 1))


class ClipDataset(EpochSeeded, Dataset):
    """Items: {"clip": (6, 3, H, W) float in [0, 1] RGB, "masks": (5, 1, H, W) float {0, 1}}.

    Arguments:
      videos: from find_dataset; still images become clips through random mild affine motion.
      input_size: (H, W) of the network.
      augment: joint transform of (Video, Mask) shared by the clip (augment.clip_augmentation).
      seed: with the epoch (set_epoch) and index, fixes every random choice of an item.
    """

    def __init__(
        self,
        videos: Sequence[Video],
        input_size: tuple[int, int],
        augment: v2.Compose | None = None,
        seed: int = 0,
    ) -> None:
        self.videos = list(videos)
        self.input_size = tuple(input_size)
        self.augment = augment
        self.seed = seed
        self.motion = still_motion()
        self.items = [
            (v, start) for v, video in enumerate(self.videos) for start in clip_windows(video)
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        video_index, start = self.items[index]
        video = self.videos[video_index]
        with seeded(self.seed, self.epoch, index):
            if video.still or len(video) == 1:
                image, mask = self._load(video.frames[0])
                frames, masks = still_to_clip(image, mask, 1 + CLIP_FRAMES, self.motion)
            else:
                records = [video.frames[0]] + window(video.frames, start)
                loaded = [self._load(record) for record in records]
                frames = tv_tensors.Video(torch.stack([f for f, _ in loaded]))
                masks = tv_tensors.Mask(torch.stack([m for _, m in loaded]))
            if self.augment is not None:
                frames, masks = self.augment(frames, masks)
        return {
            "clip": frames.as_subclass(torch.Tensor).float() / 255.0,
            "masks": masks.as_subclass(torch.Tensor)[1:].float(),
        }

    def _load(self, record: FrameFiles) -> tuple[torch.Tensor, torch.Tensor]:
        frame, mask = read_pair(record)
        return resize_frame(frame, self.input_size), resize_mask(mask, self.input_size)


def window(frames: Sequence[FrameFiles], start: int) -> list[FrameFiles]:
    """frames[start : start + 5], padded by repeating the last frame."""
    chosen = list(frames[start : start + CLIP_FRAMES])
    return chosen + [chosen[-1]] * (CLIP_FRAMES - len(chosen))
