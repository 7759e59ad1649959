"""Frames for benchmarks: a real clip (video file, or a folder of frames such as a SUN-SEG
case) or synthetic frames of any size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from models.frame_order import frame_sort_key
from models.pipeline.preprocess import IMAGE_SUFFIXES


def read_clip(path: str | Path, limit: int | None = None) -> list[np.ndarray]:
    """BGR uint8 frames of a video file or an image folder (a SUN-SEG case folder, its
    `Frame/<case>` folder, or any folder of numbered images), in order.

    Raises:
      ValueError: one line naming the path, when it holds no readable frames.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: clip not found; pass a video file or a folder of frames")
    frames = _read_folder(path, limit) if path.is_dir() else _read_video(path, limit)
    if not frames:
        raise ValueError(f"{path}: no readable frames; pass a video file or a folder of images")
    return frames


def frame_files(path: str | Path) -> list[Path]:
    """The image files of a folder of frames, in video order (SUN-SEG's numbering, else a
    natural sort: 9 before 10). A SUN-SEG-style case folder with Frame/ inside is read there."""
    path = Path(path)
    if (path / "Frame").is_dir():  # a SUN-SEG-style case folder with Frame/ and GT/
        path = path / "Frame"
    return sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda p: frame_sort_key(p.name))


def _read_folder(path: Path, limit: int | None) -> list[np.ndarray]:
    frames = []
    for file in frame_files(path)[:limit]:
        frame = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if frame is None:
            raise ValueError(f"{file}: unreadable image; remove it or fix the folder")
        frames.append(frame)
    return frames


def _read_video(path: Path, limit: int | None) -> list[np.ndarray]:
    import av

    frames = []
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="bgr24"))
                if limit is not None and len(frames) >= limit:
                    break
    except (av.error.FFmpegError, ValueError) as error:
        raise ValueError(f"{path}: not a readable video ({error}); pass a video file or a "
                         "folder of frames") from None
    return frames


def synthetic_frames(size: tuple[int, int], count: int, seed: int = 0) -> list[np.ndarray]:
    """`count` BGR frames (H, W, 3) of smooth reddish tissue-like texture with a bright blob
    drifting across, deterministic for a seed. For timing only: nothing here is a polyp."""
    height, width = size
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (count + 8, 12, 16, 3)).astype(np.float32)
    base = np.array([60, 70, 170], np.float32)  # BGR: reddish mucosa
    frames = []
    for t in range(count):
        # Blend neighbouring noise fields so consecutive frames change smoothly.
        field = coarse[t] * 0.6 + coarse[t + 1] * 0.4
        texture = cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC)
        frame = base + (texture - 0.5) * 80
        cx = int(width * (0.3 + 0.4 * (t % 50) / 50))
        cy = height // 2
        blob = np.zeros((height, width), np.float32)
        cv2.ellipse(blob, (cx, cy), (max(2, width // 10), max(2, height // 8)), 0, 0, 360, 1, -1)
        blob = cv2.GaussianBlur(blob, (0, 0), max(1.0, width / 100))
        frame = frame + blob[:, :, None] * np.array([30, 40, 60], np.float32)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames
