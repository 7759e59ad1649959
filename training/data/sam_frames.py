"""SAMIHS training samples: one frame at SAM's input, its low-res target and its prompt."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from models.samihs import FrameGeometry, preprocess_frame
from models.samihs.transforms import LOW_RES_SIZE

from ..errors import DataError
from .files import read_map, read_pair
from .layout import FrameFiles, Video
from .sam_prompts import PromptSettings, SamplePrompt, empty_mask_prompt, gt_prompt, map_prompt
from .seeding import EpochSeeded, seeded


def map_path(video: Video, record: FrameFiles) -> Path:
    """Where `polyp-train pns --predict` stored the map of `record`: `<maps>/<key>.png`."""
    if video.maps is None:
        raise DataError(
            f"prompt source pns needs PNS+ maps for {record.image}; set `maps: DIR` on its source"
        )
    return video.maps / f"{record.key}.png"


def mask_in_sam_space(mask: np.ndarray, geometry: FrameGeometry) -> np.ndarray:
    """{0, 1} (H, W) -> {0, 1} (S, S): resized like the image (nearest), padded bottom/right."""
    resized_h, resized_w = geometry.resized_size
    size = geometry.image_size
    placed = np.zeros((size, size), np.uint8)
    placed[:resized_h, :resized_w] = cv2.resize(
        mask, (resized_w, resized_h), interpolation=cv2.INTER_NEAREST
    )
    return placed


def low_res_target(mask: np.ndarray, geometry: FrameGeometry) -> np.ndarray:
    """{0, 1} (H, W) -> {0, 1} float32 (256, 256) in the padded square (area-resized, >= 0.5)."""
    resized_h, resized_w = geometry.resized_size
    size = geometry.image_size
    placed = np.zeros((size, size), np.float32)
    placed[:resized_h, :resized_w] = cv2.resize(
        mask.astype(np.float32), (resized_w, resized_h), interpolation=cv2.INTER_AREA
    )
    if size != LOW_RES_SIZE:
        placed = cv2.resize(placed, (LOW_RES_SIZE, LOW_RES_SIZE), interpolation=cv2.INTER_AREA)
    return (placed >= 0.5).astype(np.float32)


class SamFrameDataset(EpochSeeded, Dataset):
    """Every frame of `videos` as a SAMIHS sample.

    Items: image (3, S, S) SAM-normalised; target (1, 256, 256) {0, 1}; point (1, 2),
    point_label (1,), box (4,) in SAM input pixels; prompted () bool (False: a stand-in prompt);
    mask_prompt (1, S/4, S/4) logits when settings.use_mask.

    Arguments:
      videos: with `maps` set for prompt source "pns".
      train: random prompts (and augmentation); False gives the deterministic validation prompt.
      augment: a joint (Video, Mask[, Video]) transform, e.g. augment.clip_augmentation().
    """

    def __init__(
        self,
        videos: Sequence[Video],
        image_size: int,
        settings: PromptSettings,
        train: bool = True,
        augment: v2.Compose | None = None,
        seed: int = 0,
    ) -> None:
        self.videos = list(videos)
        self.image_size = image_size
        self.settings = settings
        self.train = train
        self.augment = augment
        self.seed = seed
        self.items = [(v, f) for v, video in enumerate(self.videos) for f in range(len(video))]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        video_index, frame_index = self.items[index]
        record = self.videos[video_index].frames[frame_index]
        frame, mask = read_pair(record)
        prob = None
        if self.settings.source == "pns":
            prob = read_map(map_path(self.videos[video_index], record))
        with seeded(self.seed, self.epoch, index) as rng:
            if self.augment is not None:
                frame, mask, prob = self._augment(frame, mask, prob)
            sample = build_sample(
                frame, mask, prob, self.image_size, self.settings, rng if self.train else None
            )
        return sample

    def _augment(
        self, frame: np.ndarray, mask: np.ndarray, prob: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        video = tv_tensors.Video(torch.from_numpy(frame).permute(2, 0, 1).unsqueeze(0))
        masks = tv_tensors.Mask(torch.from_numpy(mask)[None, None])
        inputs = [video, masks]
        if prob is not None:
            resized = cv2.resize(prob, (frame.shape[1], frame.shape[0]))
            inputs.append(tv_tensors.Video(torch.from_numpy(resized)[None, None]))
        outputs = self.augment(*inputs)
        frame = outputs[0][0].permute(1, 2, 0).contiguous().numpy()
        mask = outputs[1][0, 0].contiguous().numpy()
        prob = outputs[2][0, 0].contiguous().numpy() if prob is not None else None
        return frame, mask, prob


def build_sample(
    frame: np.ndarray,
    mask: np.ndarray,
    prob: np.ndarray | None,
    image_size: int,
    settings: PromptSettings,
    rng: np.random.Generator | None,
) -> dict[str, torch.Tensor]:
    """One sample from a BGR frame, its {0, 1} mask and (source "pns") its PNS+ map."""
    image, geometry = preprocess_frame(frame, image_size, "BGR")
    prompt = sample_prompt(mask, prob, geometry, settings, rng)
    sample = {
        "image": image[0],
        "target": torch.from_numpy(low_res_target(mask, geometry)).unsqueeze(0),
        "point": torch.from_numpy(prompt.point),
        "point_label": torch.from_numpy(prompt.point_label).long(),
        "box": torch.from_numpy(prompt.box),
        "prompted": torch.tensor(prompt.found),
    }
    if settings.use_mask:
        logits = prompt.mask
        if logits is None:
            logits = empty_mask_prompt(image_size, settings.pns.mask_logit_clip)
        sample["mask_prompt"] = torch.from_numpy(np.array(logits, np.float32)).unsqueeze(0)
    return sample


def sample_prompt(
    mask: np.ndarray,
    prob: np.ndarray | None,
    geometry: FrameGeometry,
    settings: PromptSettings,
    rng: np.random.Generator | None,
) -> SamplePrompt:
    """The prompt of one frame; a map without components falls back to the GT prompt while
    training (so SAM still learns from the frame) and to a padding prompt otherwise."""
    resized_hw = geometry.resized_size
    if prob is not None:
        found = map_prompt(prob, geometry.frame_size, geometry.image_size, settings)
        if found is not None:
            return found
        if rng is None:
            return gt_prompt(np.zeros((1, 1), np.uint8), resized_hw, None, 0.0)
    return gt_prompt(mask_in_sam_space(mask, geometry), resized_hw, rng, settings.box_jitter)
