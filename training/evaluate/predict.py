"""Predicting probability maps for whole videos: PNS+ alone (its offline protocol), or the
inference sequence the live app runs (SAMIHS with any prompt source).

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

from models.pipeline import ORACLE_SOURCES, probability_to_grey
from models.pns_plus import CLIP_FRAMES, PNSPlus
from models.segmenter import PolypSegmenter

from ..data.clips import resize_frame
from ..data.files import read_frame, read_map, read_pair, write_map
from ..data.layout import Video
from ..data.sam_frames import map_path
from .folders import read_grey
from .protocol import Report, VideoFrames, score_videos


class Predictor(Protocol):
    def predict_video(self, video: Video) -> Iterator[np.ndarray]:
        """(H, W) float32 probabilities for each frame of `video`, in order."""
        ...


def chunk_starts(count: int) -> list[int]:
    """Offline PNS+ inference: non-overlapping 5-frame chunks, the last one shifted back to end
    at the final frame, as the public PNS+ test code does."""
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


class SegmenterPredictor:
    """The inference sequence (models.PolypSegmenter, the code the live app runs) over whole
    videos, reset at the start of every video. The oracle prompt sources get each frame's GT
    mask; `saved_maps` prompts from the video's saved PNS+ maps instead of running PNS+."""

    def __init__(self, segmenter: PolypSegmenter, saved_maps: bool = False) -> None:
        self.segmenter = segmenter
        self.saved_maps = saved_maps

    def predict_video(self, video: Video) -> Iterator[np.ndarray]:
        self.segmenter.reset()
        oracle = self.segmenter.prompt_source in ORACLE_SOURCES
        for record in video.frames:
            frame, mask = read_pair(record) if oracle else (read_frame(record.image), None)
            saved = read_map(map_path(video, record)) if self.saved_maps else None
            yield self.segmenter.process(frame, mask, saved).probability


def score_predictor(
    predictor: Predictor, videos: Sequence[Video], progress: bool = False
) -> Report:
    """Predicts every video in memory and scores it with the SUN-SEG protocol."""
    scored = []
    for video in tqdm(videos, desc="predict", disable=not progress, leave=False):
        frames = [
            (probability_to_grey(prob), read_grey(record.mask))
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
