"""Finding frames and masks on disk: the SUN-SEG video layout and image folders.

SUN-SEG layout: `<root>/Frame/<case>/<name>.jpg` with `<root>/GT/<case>/<name>.png`; each case is
one video. Image folder: `<root>/images/<id>.<ext>` with `<root>/masks/<id>.png`; each image is
a one-frame "video" (`still=True`). ../shared/data/cvc-clinicdb and kvasir-seg are read as-is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from models.frame_order import frame_sort_key
from models.pipeline.preprocess import IMAGE_SUFFIXES

from ..errors import DataError

MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")  # PNG first: lossless

_RANGE = re.compile(r"^(.*?)(\d+)\.\.(.*?)(\d+)$")


@dataclass(frozen=True)
class FrameFiles:
    """One frame and its mask. `key` is its id relative to the data set: `<case>/<name>` for
    videos, `<name>` for image folders; predictions and PNS+ maps are stored as `<key>.png`."""

    image: Path
    mask: Path
    key: str


@dataclass(frozen=True)
class Video:
    """Frames in temporal order; `still` marks a single image from an image folder; `maps` is
    the folder of this data set's saved PNS+ maps, if any."""

    name: str
    frames: tuple[FrameFiles, ...]
    still: bool = False
    maps: Path | None = None

    def __len__(self) -> int:
        return len(self.frames)


def find_dataset(root: str | Path, cases: Sequence[str] | None = None) -> list[Video]:
    """Videos of a SUN-SEG-layout folder, or one-frame videos of an image folder.

    Arguments:
      root: the data set folder (holding `Frame/` + `GT/`, or `images/` + `masks/`).
      cases: for video data, the case names to keep; `seq01..seq24` expands to a numbered range.
    Raises:
      DataError: missing folder, unknown layout or case, a frame without its mask.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: data folder not found; check the path")
    if (root / "Frame").is_dir():
        return find_videos(root, cases)
    if (root / "images").is_dir():
        if cases:
            raise DataError(f"{root}: an image folder has no cases; remove `cases` for this source")
        return find_images(root)
    raise DataError(
        f"{root}: unknown layout; expected Frame/<case>/*.jpg + GT/<case>/*.png (SUN-SEG) "
        "or images/ + masks/ (image folder)"
    )


def find_videos(root: Path, cases: Sequence[str] | None = None) -> list[Video]:
    """Videos of `<root>/Frame/<case>/`, masks in `<root>/GT/<case>/`, cases sorted naturally."""
    frame_root, gt_root = root / "Frame", root / "GT"
    if not gt_root.is_dir():
        raise DataError(f"{gt_root}: mask folder not found; SUN-SEG data needs GT/<case>/*.png")
    available = sorted((p.name for p in frame_root.iterdir() if p.is_dir()), key=frame_sort_key)
    if not available:
        raise DataError(f"{frame_root}: no case folders; expected Frame/<case>/*.jpg")
    chosen = available if not cases else expand_cases(cases)
    unknown = [case for case in chosen if case not in available]
    if unknown:
        raise DataError(
            f"{frame_root}: no case {unknown[0]!r}; available: {available[0]} .. {available[-1]}"
        )
    videos = []
    for case in chosen:
        images = _image_files(frame_root / case)
        if not images:
            raise DataError(f"{frame_root / case}: no frames in this case folder")
        records = tuple(
            FrameFiles(image, _mask_for(image, gt_root / case), f"{case}/{image.stem}")
            for image in images
        )
        videos.append(Video(case, records))
    return videos


def find_images(root: Path) -> list[Video]:
    """Each image of `<root>/images/` as a one-frame video, its mask from `<root>/masks/`."""
    mask_root = root / "masks"
    if not mask_root.is_dir():
        raise DataError(f"{mask_root}: mask folder not found; an image folder needs masks/")
    images = _image_files(root / "images")
    if not images:
        raise DataError(f"{root / 'images'}: no images found")
    return [
        Video(image.stem, (FrameFiles(image, _mask_for(image, mask_root), image.stem),), True)
        for image in images
    ]


def expand_cases(cases: Iterable[str]) -> list[str]:
    """Case names with `prefixNN..prefixMM` ranges expanded, keeping the zero padding."""
    expanded: list[str] = []
    for case in cases:
        match = _RANGE.match(str(case))
        if not match:
            expanded.append(str(case))
            continue
        prefix, first, prefix_end, last = match.groups()
        if prefix != prefix_end or int(first) > int(last):
            raise DataError(f"bad case range {case!r}; write it as seq01..seq24")
        width = len(first)
        expanded.extend(f"{prefix}{n:0{width}d}" for n in range(int(first), int(last) + 1))
    return expanded


def _image_files(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: frame_sort_key(p.name))


def _mask_for(image: Path, mask_folder: Path) -> Path:
    for suffix in MASK_SUFFIXES:
        candidate = mask_folder / (image.stem + suffix)
        if candidate.is_file():
            return candidate
    raise DataError(
        f"{mask_folder / (image.stem + '.png')}: missing mask for frame {image}; "
        "every frame needs a mask with the same name"
    )
