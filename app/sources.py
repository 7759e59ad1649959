"""Video sources: a file, a folder of frames, a capture device (index or /dev/videoN) or a
stream URL, via OpenCV."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

with contextlib.suppress(AttributeError):  # OpenCV prints its own warnings on failed opens
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


class SourceError(ValueError):
    """A source that cannot be opened or read; the message names it and the fix."""


@dataclass(frozen=True)
class SourceSpec:
    """What --source names. kind: 'file', 'folder' (of frames), 'device' (index or
    /dev/videoN) or 'url'."""

    kind: str
    target: str | int
    text: str

    @property
    def is_live(self) -> bool:
        return self.kind in ("device", "url")

    @property
    def name(self) -> str:
        """A folder name for the source's recorded masks: a file's stem, a folder's name (a
        SUN-SEG case, as its GT folder is named), else a safe form of the device or URL."""
        if self.kind == "file":
            return Path(str(self.target)).stem
        if self.kind == "folder":
            return Path(str(self.target)).resolve().name
        text = str(self.target).rstrip("/").rsplit("/", 1)[-1] or "stream"
        return re.sub(r"[^A-Za-z0-9._-]+", "_", text if self.kind == "url" else f"device_{text}")


@dataclass(frozen=True)
class CaptureOptions:
    """Settings requested from a capture device (files ignore them)."""

    width: int | None = None
    height: int | None = None
    fps: float | None = None
    fourcc: str | None = None


def parse_source(text: str) -> SourceSpec:
    """'3' -> device 3, '/dev/video0' -> device, 'rtsp://..' -> url, a folder -> folder of
    frames, anything else -> file."""
    value = text.strip()
    if re.fullmatch(r"\d+", value):
        return SourceSpec("device", int(value), value)
    if re.fullmatch(r"/dev/video\d+", value):
        return SourceSpec("device", value, value)
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value):
        return SourceSpec("url", value, value)
    if Path(value).is_dir():
        return SourceSpec("folder", value, value)
    return SourceSpec("file", value, value)


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[list[str]]:
    """Sends what native code (FFmpeg, OpenCV) writes to fd 2 into a list of lines."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(line for line in sink.read().decode(errors="replace").splitlines() if line)


def _native_reason(lines: list[str]) -> str:
    """The last FFmpeg/OpenCV complaint, without its '[mov @ 0x..]' prefix."""
    for line in reversed(lines):
        text = re.sub(r"^\[[^\]]*\]\s*", "", line).strip()
        if text and "WARN" not in line:
            return f" ({text})"
    return ""


def _devices_hint() -> str:
    found = sorted(glob.glob("/dev/video*"))
    if found:
        return f"devices present: {', '.join(found)}"
    return "no /dev/video* devices on this machine; check the cable or pass a video file"


class VideoSource:
    """One opened cv2.VideoCapture, or a folder's image files in order; `open()` checks that a
    first frame can be read. `frame_names`: a folder's file stems, one per frame (the names its
    recorded masks take), else None."""

    def __init__(self, spec: SourceSpec, options: CaptureOptions | None = None) -> None:
        self.spec = spec
        self.options = options or CaptureOptions()
        self._capture: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None
        self.fps: float = 0.0
        self.frame_count: int = 0
        self.frame_size: tuple[int, int] | None = None  # (width, height) of the first frame
        self.frame_names: list[str] | None = None
        self.end_message = ""  # why a file or folder ended early, when it did
        self._files: list[Path] = []
        self._next_file = 0

    @property
    def is_live(self) -> bool:
        return self.spec.is_live

    def open(self) -> None:
        """Opens the source and reads its first frame; raises SourceError on failure."""
        self.release()
        spec = self.spec
        self.end_message = ""
        if spec.kind == "folder":
            self._open_folder(Path(str(spec.target)))
            return
        if spec.kind == "file":
            path = Path(str(spec.target))
            if not path.exists():
                raise SourceError(f"video file {path} not found; check the path given to --source")
            if not path.is_file():
                raise SourceError(f"{path} is not a file; --source takes a video file")
        with native_stderr_captured() as native:
            capture = self._make_capture()
            ok = capture.isOpened()
            frame = None
            if ok:
                ok, frame = capture.read()
        if not ok or frame is None:
            capture.release()
            raise SourceError(self._failure_message(_native_reason(native)))
        self._capture, self._first = capture, frame
        self.frame_size = (frame.shape[1], frame.shape[0])
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1.0 <= fps <= 1000.0 else 0.0
        self.frame_count = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0))

    def _open_folder(self, path: Path) -> None:
        from engine.clips import frame_files  # here: `polyp-live --help` must not load torch

        files = frame_files(path)
        if not files:
            raise SourceError(f"folder {path} holds no images (.jpg, .png, ...); pass a folder of "
                              "frames or a video file to --source")
        self._files, self._next_file = files, 0
        first = self._read_file()
        if first is None:
            raise SourceError(self.end_message)
        self._first = first
        self.frame_size = (first.shape[1], first.shape[0])
        self.frame_names = [file.stem for file in files]
        self.fps, self.frame_count = 0.0, len(files)

    def _read_file(self) -> np.ndarray | None:
        """The folder's next image; None at the end, or at an unreadable image (named in
        `end_message`: the frames after it are not shown, as after a damaged video's)."""
        if self._next_file >= len(self._files):
            return None
        file = self._files[self._next_file]
        self._next_file += 1
        frame = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if frame is None:
            self.end_message = (f"{file}: not a readable image; the frames after it were not "
                                "read (replace or remove it)")
        return frame

    def _make_capture(self) -> cv2.VideoCapture:
        spec, options = self.spec, self.options
        if spec.kind == "device":
            backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
            capture = cv2.VideoCapture(spec.target, backend)
            if capture.isOpened():
                if options.fourcc:
                    capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*options.fourcc))
                if options.width:
                    capture.set(cv2.CAP_PROP_FRAME_WIDTH, options.width)
                if options.height:
                    capture.set(cv2.CAP_PROP_FRAME_HEIGHT, options.height)
                if options.fps:
                    capture.set(cv2.CAP_PROP_FPS, options.fps)
                capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            return capture
        return cv2.VideoCapture(str(spec.target), cv2.CAP_FFMPEG)

    def _failure_message(self, reason: str) -> str:
        spec = self.spec
        if spec.kind == "device":
            return f"cannot open capture device {spec.text}; {_devices_hint()}"
        if spec.kind == "url":
            return f"cannot open stream {spec.text}{reason}; check the URL and the network"
        return (
            f"cannot read video {spec.text}: not a playable video or damaged{reason}; "
            "pass a video file such as .mp4, .mkv or .avi"
        )

    def read(self) -> np.ndarray | None:
        """The next frame (H, W, 3) uint8 BGR, or None at the end or when the source is lost."""
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        if self._files:
            return self._read_file()
        if self._capture is None:
            return None
        ok, frame = self._capture.read()
        return frame if ok and frame is not None else None

    def release(self) -> None:
        if self._capture is not None:
            self._capture.release()
        self._capture, self._first = None, None
        self._files, self._next_file = [], 0


def open_source(text: str, options: CaptureOptions | None = None) -> VideoSource:
    """Parses and opens --source; raises SourceError with a one-line reason and fix."""
    source = VideoSource(parse_source(text), options)
    source.open()
    return source
