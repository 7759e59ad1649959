"""Video order of frame files: the one sort key for training data, polyp-eval and benchmarks."""

from __future__ import annotations

import re
from pathlib import Path

# SUN-SEG names such as `case_M_20181001100941_0U62372100109341_1_005_001-1_a10_ayy_image0002`:
# the public PNS+ code orders frames by the number before the first `-`, then the number after
# `_a`, then the number after `_image`.
_SUN_SEG_NAME = re.compile(r"(\d+)-[^_]*_a(\d+)_.*_image(\d+)$")
_DIGITS = re.compile(r"(\d+)")


def frame_sort_key(name: str) -> tuple:
    """Sort key giving video order: SUN-SEG's numeric fields, else a natural sort (9 < 10)."""
    stem = Path(name).stem
    match = _SUN_SEG_NAME.search(stem)
    if match:
        return (0, tuple(int(group) for group in match.groups()), stem)
    parts = _DIGITS.split(stem)
    natural = tuple(
        (1, int(part), "") if index % 2 else (0, 0, part.lower())
        for index, part in enumerate(parts)
        if part
    )
    return (1, natural, stem)
