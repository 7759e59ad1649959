"""Frames of the annotated recording at given times (PyAV), as small JPEG thumbnails."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

THUMB_WIDTH = 320


def frame_at(path: Path, t: float) -> np.ndarray | None:
    """The frame shown at `t` seconds (the last one starting at or before it), BGR; None if the
    video has no frame there."""
    tolerance = 1e-3
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.time_base is not None:
            container.seek(max(0, int(t / stream.time_base)), stream=stream, backward=True)
        found = None
        try:
            for frame in container.decode(stream):
                if frame.time is not None and frame.time > t + tolerance:
                    break
                found = frame
        except av.error.FFmpegError:
            pass  # a file cut by a crash: keep what decoded
        return None if found is None else found.to_ndarray(format="bgr24")


def thumbnail_jpeg(image: np.ndarray, width: int = THUMB_WIDTH) -> bytes:
    """`image` (BGR) scaled to `width` pixels wide, aspect kept, as JPEG bytes."""
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError("could not encode a thumbnail")
    return data.tobytes()
