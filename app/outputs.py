"""Output files: user-only permissions (0600, folders 0700) and names that carry the start time."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: str | Path) -> Path:
    """Creates `path` (user-only) if missing; an existing folder is left as it is."""
    folder = Path(path)
    folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    return folder


def create_private(path: Path) -> Path:
    """Creates an empty file readable only by the user; fails if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    os.close(fd)
    os.chmod(path, PRIVATE_FILE)  # in case of an unusual umask
    return path


def session_stem(folder: Path, started: float, prefix: str = "session") -> str:
    """'session_20250131-142501' (local start time), with '-2', '-3' if that name is taken."""
    stem = f"{prefix}_{time.strftime('%Y%m%d-%H%M%S', time.localtime(started))}"
    candidate, n = stem, 1
    while any(folder.glob(candidate + "_*")):
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def save_snapshot(folder: str | Path, image: np.ndarray, frame_index: int) -> Path:
    """Writes `image` (BGR) as a user-only PNG named by time and frame; returns its path."""
    target = private_dir(folder)
    stem = session_stem(target, time.time(), prefix="snapshot")
    path = target / f"{stem}_f{frame_index:06d}.png"
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"could not encode snapshot {path}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as file:
        file.write(data.tobytes())
    return path
