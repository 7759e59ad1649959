"""Predicting probability maps for whole videos: PNS+ alone, SAMIHS alone, or the full pipeline.

Every predictor yields one (H, W) float32 probability map per frame, at the frame's size, in
temporal order. Maps are scored in memory (validation) or written as grey PNGs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch
from tqdm import tqdm

from models.pns_plus import CLIP_FRAMES, PNSPlus
from models.samihs import SAMIHS, FrameGeometry, probability_in_frame
from models.segmenter import PolypSegmenter

from ..data.clips import resize_frame
from ..data.files import read_frame, read_map, read_pair, write_map
from ..data.layout import Video
from ..data.sam_frames import build_sample, map_path
from ..data.sam_prompts import PromptSettings
from .folders import read_grey
from .protocol import Report, VideoFrames, score_videos


class Predictor(Protocol):
    def predict_video(self, video: Video) -> Iterator[np.ndarray]:
        """(H, W) float32 probabilities for each frame of `video`, in order."""
        ...


def chunk_starts(count: int) -> list[int]:
    """Offline PNS+ inference: non-overlapping 5-frame chunks, the last one shifted back to end
    at the final frame (REFERENCE section 3)."""
    if count <= CLIP_FRAMES:
        return [0]
    starts = list(range(0, count - CLIP_FRAMES + 1, CLIP_FRAMES))
    if starts[-1] + CLIP_FRAMES < count:
        starts.append(count - CLIP_FRAMES)
    return starts


class PnsPredictor:
    """PNS+ over whole videos, anchor = the video's first frame."""

    def __init__(self, model: PNSPlus, device: torch.device | str = "cpu") -> None:
        self.model = model
        self.device = torch.device(device)

    @torch.inference_mode()
    def predict_video(self, video: Video) -> Iterator[np.ndarray]:
        self.model.eval()
        size = self.model.input_size
        count = len(video)
        anchor_frame = read_frame(video.frames[0].image)
        anchor = resize_frame(anchor_frame, size)
        results: dict[int, np.ndarray] = {}
        frame_sizes: dict[int, tuple[int, int]] = {}
        for start in chunk_starts(count):
            indices = [min(start + k, count - 1) for k in range(CLIP_FRAMES)]
            frames = []
            for index in indices:
                frame = anchor_frame if index == 0 else read_frame(video.frames[index].image)
                frame_sizes[index] = frame.shape[:2]
                frames.append(resize_frame(frame, size))
            clip = torch.stack([anchor] + frames).unsqueeze(0).float().div_(255.0)
            probs = self.model(clip.to(self.device)).float().cpu().numpy()[:, 0]
            for k, index in enumerate(indices):
                results[index] = probs[k]  # a later (shifted) chunk overwrites, as offline code
        for index in range(count):
            height, width = frame_sizes[index]
            yield cv2.resize(results[index], (width, height), interpolation=cv2.INTER_LINEAR)


class SamPredictor:
    """SAMIHS frame by frame with validation prompts (GT middle pixel + box, or PNS+ maps)."""

    def __init__(
        self, model: SAMIHS, settings: PromptSettings, device: torch.device | str = "cpu"
    ) -> None:
        self.model = model
        self.settings = settings
        self.device = torch.device(device)

    @torch.inference_mode()
    def predict_video(self, video: Video) -> Iterator[np.ndarray]:
        self.model.eval()
        size = self.model.config.image_size
        for record in video.frames:
            frame, mask = read_pair(record)
            prob = None
            if self.settings.source == "pns":
                prob = read_map(map_path(video, record))
            sample = build_sample(frame, mask, prob, size, self.settings, None)
            if self.settings.source == "pns" and not bool(sample["prompted"]):
                yield np.zeros(frame.shape[:2], np.float32)  # no component: SAM is skipped
                continue
            logits = self.model(**sam_inputs(sample, self.settings, self.device, batched=False))
            yield probability_in_frame(logits, FrameGeometry(frame.shape[:2], size))


def sam_inputs(
    batch: dict[str, torch.Tensor],
    settings: PromptSettings,
    device: torch.device,
    batched: bool = True,
) -> dict:
    """SAMIHS forward arguments from a (collated, or single when batched=False) sample."""

    def get(key: str) -> torch.Tensor:
        value = batch[key].to(device)
        return value if batched else value.unsqueeze(0)

    inputs: dict = {"images": get("image")}
    if settings.use_box:
        inputs["boxes"] = get("box")
    if settings.use_point:
        inputs["points"] = (get("point"), get("point_label"))
    if settings.use_mask and "mask_prompt" in batch:
        inputs["mask_prompt"] = get("mask_prompt")
    return inputs


class PipelinePredictor:
    """The deployed pipeline (models.PolypSegmenter), reset at the start of every video; the
    oracle prompt sources (gt-point, gt-box) get each frame's GT mask."""

    def __init__(self, segmenter: PolypSegmenter) -> None:
        self.segmenter = segmenter

    def predict_video(self, video: Video) -> Iterator[np.ndarray]:
        self.segmenter.reset()
        oracle = self.segmenter.prompt_source.startswith("gt-")
        for record in video.frames:
            if oracle:
                frame, mask = read_pair(record)
                yield self.segmenter(frame, mask).probability
            else:
                yield self.segmenter(read_frame(record.image)).probability


def to_grey(probability: np.ndarray) -> np.ndarray:
    """Probabilities -> uint8 grey, the quantisation of a saved map."""
    return np.clip(np.rint(probability * 255.0), 0, 255).astype(np.uint8)


def score_predictor(
    predictor: Predictor, videos: Sequence[Video], progress: bool = False
) -> Report:
    """Predicts every video in memory and scores it with the SUN-SEG protocol."""
    scored = []
    for video in tqdm(videos, desc="predict", disable=not progress, leave=False):
        frames = [
            (to_grey(prob), read_grey(record.mask))
            for record, prob in zip(video.frames, predictor.predict_video(video), strict=True)
        ]
        scored.append(VideoFrames(video.name, frames, video.still))
    return score_videos(scored)


def write_predictions(
    predictor: Predictor, videos: Sequence[Video], out_dir: Path, progress: bool = True
) -> int:
    """Writes `<out_dir>/<key>.png` for every frame; returns the number of maps written."""
    written = 0
    for video in tqdm(videos, desc="predict", unit="video", disable=not progress):
        for record, prob in zip(video.frames, predictor.predict_video(video), strict=True):
            write_map(Path(out_dir) / f"{record.key}.png", prob)
            written += 1
    return written
