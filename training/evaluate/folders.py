"""Pairing a folder of prediction maps with a folder of ground truth, for `polyp-eval --pred --gt`.

GT folders: a SUN-SEG root (`GT/<case>/*.png`), the `GT` folder itself (case sub-folders), an
image-folder root (`masks/*.png`) or a flat folder of masks. Predictions are grey PNGs at the
GT's relative path (`<case>/<name>.png`, or `<name>.png` for flat data), any size.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..data.layout import IMAGE_SUFFIXES, expand_cases, frame_sort_key
from ..data.sources import read_names
from ..errors import DataError
from .protocol import Report, VideoFrames, score_videos


def read_grey(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise DataError(f"{path}: cannot read this image; is it a damaged or non-image file?")
    return image


def gt_layout(gt_dir: Path) -> tuple[Path, bool]:
    """(folder of masks, flat): flat when masks sit directly in it (one "video" per image)."""
    if not gt_dir.is_dir():
        raise DataError(f"{gt_dir}: GT folder not found; check the path")
    for name, flat in (("GT", False), ("masks", True)):
        if (gt_dir / name).is_dir():
            return gt_dir / name, flat
    if any(p.is_dir() for p in gt_dir.iterdir()):
        return gt_dir, False
    return gt_dir, True


def _masks(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: frame_sort_key(p.name))


def paired_videos(
    pred_dir: Path,
    gt_dir: Path,
    names_file: str | Path | None = None,
    cases: list[str] | None = None,
) -> list[VideoFrames]:
    """Videos of (prediction, GT) loaders in temporal order; checks every prediction exists.
    names_file: only the images it lists (image folders); cases: only these videos."""
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    if not pred_dir.is_dir():
        raise DataError(f"{pred_dir}: prediction folder not found; check the path")
    masks_root, flat = gt_layout(gt_dir)
    if flat:
        groups = [(p.stem, [p], True) for p in _masks(masks_root)]
    else:
        folders = sorted(
            (p for p in masks_root.iterdir() if p.is_dir()), key=lambda p: frame_sort_key(p.name)
        )
        groups = [(folder.name, _masks(folder), False) for folder in folders]
    groups = [g for g in groups if g[1]]
    if names_file is not None:
        if not flat:
            raise DataError(f"{gt_dir}: --names selects images of an image folder, not videos")
        names = set(read_names(names_file))
        missing = names - {name for name, _, _ in groups}
        if missing:
            raise DataError(f"{names_file}: {len(missing)} names have no GT mask, first: "
                            f"{min(missing)}")
        groups = [g for g in groups if g[0] in names]
    if cases:
        if flat:
            raise DataError(f"{gt_dir}: --cases selects videos; use --names for an image folder")
        wanted = expand_cases(cases)
        unknown = sorted(set(wanted) - {name for name, _, _ in groups})
        if unknown:
            raise DataError(f"{gt_dir}: no case {unknown[0]!r}")
        groups = [g for g in groups if g[0] in wanted]
    if not groups:
        raise DataError(f"{masks_root}: no GT masks found")
    videos = []
    for name, gts, still in groups:
        frames = []
        for gt in gts:
            pred = pred_dir / gt.relative_to(masks_root).with_suffix(".png")
            if not pred.is_file():
                raise DataError(
                    f"{pred}: missing prediction for GT {gt}; predictions must be grey PNGs "
                    "at the GT's relative path"
                )
            frames.append(lambda p=pred, g=gt: (read_grey(p), read_grey(g)))
        videos.append(VideoFrames(name, frames, still))
    return videos


def evaluate_folders(
    pred_dir: Path,
    gt_dir: Path,
    names_file: str | Path | None = None,
    cases: list[str] | None = None,
) -> Report:
    """`polyp-eval --pred DIR --gt DIR [--names FILE | --cases ...]`: the SUN-SEG protocol over
    every GT frame (or the listed images / cases)."""
    return score_videos(paired_videos(pred_dir, gt_dir, names_file, cases))
