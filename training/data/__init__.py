"""Data for training and evaluation: SUN-SEG videos, image folders, PNS+ clips, SAMIHS samples."""

from .augment import clip_augmentation, still_to_clip
from .clips import CLIP_FRAMES, ClipDataset, clip_windows
from .layout import FrameFiles, Video, expand_cases, find_dataset, frame_sort_key
from .sam_frames import SamFrameDataset, build_sample
from .sam_prompts import PromptSettings
from .sources import load_sources

__all__ = [
    "CLIP_FRAMES",
    "ClipDataset",
    "FrameFiles",
    "PromptSettings",
    "SamFrameDataset",
    "Video",
    "build_sample",
    "clip_augmentation",
    "clip_windows",
    "expand_cases",
    "find_dataset",
    "frame_sort_key",
    "load_sources",
    "still_to_clip",
]
