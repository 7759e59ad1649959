"""H.264 video files that stay playable if the process dies (PyAV).

MKV or fragmented MP4, written with `flush_packets=1` so every encoded frame reaches the file at
once, x264 `tune=zerolatency` (no lookahead, no B-frames: a frame in is a packet out) and a
keyframe every second, so a SIGKILL loses well under a second of video.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .outputs import create_private

FORMATS = {"mkv": "matroska", "mp4": "mp4"}
MUXER_OPTIONS = {
    "mkv": {"flush_packets": "1", "cluster_time_limit": "1000"},
    "mp4": {"flush_packets": "1", "movflags": "frag_keyframe+empty_moov+default_base_moof"},
}
TIME_BASE = Fraction(1, 1000)  # timestamps in milliseconds


class VideoFileWriter:
    """Encodes BGR frames of one size into `path`, created user-only. pts in milliseconds."""

    def __init__(
        self, path: Path, width: int, height: int, fps: float, container: str = "mkv",
        crf: int = 23,
    ) -> None:
        self.path = create_private(path)
        self.width, self.height = width - width % 2, height - height % 2  # yuv420p: even sizes
        self.frames = 0
        self._last_pts = -1
        self._container = av.open(
            str(path), mode="w", format=FORMATS[container], options=MUXER_OPTIONS[container]
        )
        try:
            rate = Fraction(fps).limit_denominator(1001)
            stream = self._container.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
            stream.time_base = TIME_BASE
            stream.codec_context.time_base = TIME_BASE
            stream.codec_context.gop_size = max(1, round(fps))
            stream.options = {"preset": "veryfast", "tune": "zerolatency", "crf": str(crf)}
        except Exception:
            self._container.close()
            raise
        self._stream = stream

    def write(self, image: np.ndarray, pts_ms: int) -> None:
        """Encodes one (H, W, 3) uint8 BGR frame; pts are made strictly increasing."""
        pts = max(int(pts_ms), self._last_pts + 1)
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        frame.pts, frame.time_base = pts, TIME_BASE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        """Flushes the encoder and writes the trailer; safe to call twice."""
        if self._container is None:
            return
        container, self._container = self._container, None
        try:
            for packet in self._stream.encode(None):
                container.mux(packet)
        finally:
            container.close()
