"""Mixing data sets: each configured source's videos, repeated `repeat` times."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ..errors import DataError
from .layout import Video, find_dataset


class SourceSpec(Protocol):
    root: str
    cases: list[str] | None
    repeat: int
    maps: str | None


def load_sources(sources: Sequence[SourceSpec], what: str) -> list[Video]:
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
        if source.maps is not None:
            maps = Path(source.maps)
            if not maps.is_dir():
                raise DataError(
                    f"{maps}: PNS+ map folder not found; write it with `polyp-train pns --predict`"
                )
            found = [dataclasses.replace(video, maps=maps) for video in found]
        videos.extend(found * source.repeat)
    return videos
