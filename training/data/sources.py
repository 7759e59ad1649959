"""Mixing data sets: each configured source's videos, repeated `repeat` times."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from ..config import SourceConfig
from ..errors import DataError
from .layout import Video, find_dataset


def load_sources(sources: Sequence[SourceConfig], what: str) -> list[Video]:
    """Videos of every source in order, a source's list repeated `repeat` times.

    what: "train" or "val", for the error when nothing is configured.
    """
    if not sources:
        raise DataError(
            f"no {what} data configured; add data.{what}: [{{root: DIR}}] to the config"
        )
    videos: list[Video] = []
    for source in sources:
        if not source.root:
            raise DataError(f"a data.{what} source has no root; set its root: DIR")
        if source.repeat < 1:
            raise DataError(f"{source.root}: repeat must be >= 1, got {source.repeat}")
        found = find_dataset(source.root, source.cases)
        if source.names is not None:
            found = select_images(found, source.root, source.names, source.exclude_names)
        if source.maps is not None:
            maps = Path(source.maps)
            if not maps.is_dir():
                raise DataError(
                    f"{maps}: PNS+ map folder not found; write it with `polyp-train pns --predict`"
                )
            found = [dataclasses.replace(video, maps=maps) for video in found]
        videos.extend(found * source.repeat)
    return videos


def read_names(path: str | Path) -> list[str]:
    """Image names, one per line, from a split file (blank lines and # comments ignored)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: split file not found; check the names: path")
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def select_images(
    videos: list[Video], root: str, names_file: str | Path, exclude: bool
) -> list[Video]:
    """The image-folder videos named in `names_file` (or, with `exclude`, all the others)."""
    if not all(video.still for video in videos):
        raise DataError(f"{root}: names: selects images of an image folder; use cases: for videos")
    names = set(read_names(names_file))
    unknown = names - {video.name for video in videos}
    if unknown:
        raise DataError(f"{names_file}: {len(unknown)} names not in {root}, first: {min(unknown)}")
    return [video for video in videos if (video.name in names) != exclude]
