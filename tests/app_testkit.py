"""Helpers for the app tests: real clips encoded from real frames, and fault-injection models.

The segmenters here are the issue's fault injection, not mocks: they return real FrameResults
computed from the frame they get (the ground-truth mask of the nearest real frame), and the slow
and failing ones add a real delay or a real exception.
"""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from engine.stream import FrameResult, StageTimings

TIMINGS = StageTimings(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def encode_clip(
    path: Path, frames: list[np.ndarray], fps: int = 25, repeat: int = 1
) -> Path:
    """Writes BGR frames (repeated `repeat` times) as a near-lossless H.264 MKV file."""
    with av.open(str(path), mode="w", format="matroska") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "8", "preset": "ultrafast"}
        for _ in range(repeat):
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                    container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def decode_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video that decodes (BGR); a file cut by a crash ends where it breaks."""
    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        try:
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="bgr24"))
        except av.error.FFmpegError:
            pass
    return frames


def result_from_mask(mask: np.ndarray, score: float = 0.9) -> FrameResult:
    """A FrameResult whose probability is the (slightly smoothed) mask."""
    mask = mask.astype(bool)
    probability = cv2.GaussianBlur(mask.astype(np.float32), (9, 9), 0)
    ys, xs = np.nonzero(mask)
    boxes = (
        np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
        if len(xs) else np.zeros((0, 4), np.float32)
    )
    present = bool(mask.any())
    return FrameResult(probability, mask, boxes, score if present else 0.0, present, TIMINGS)


class MaskLookupSegmenter:
    """Segments a frame of a known clip: the ground-truth mask of the nearest real frame."""

    backend_name = "lookup"

    def __init__(self, clip: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.thumbs = [self._thumb(frame) for frame, _ in clip]
        self.masks = [mask.astype(bool) for _, mask in clip]
        self.calls = 0

    @staticmethod
    def _thumb(frame: np.ndarray) -> np.ndarray:
        return cv2.resize(frame, (48, 36), interpolation=cv2.INTER_AREA).astype(np.float32)

    def nearest(self, frame: np.ndarray) -> int:
        thumb = self._thumb(frame)
        return int(np.argmin([np.abs(thumb - t).mean() for t in self.thumbs]))

    def process(self, frame: np.ndarray) -> FrameResult:
        self.calls += 1
        mask = self.masks[self.nearest(frame)]
        if mask.shape != frame.shape[:2]:
            mask = cv2.resize(
                mask.astype(np.uint8), (frame.shape[1], frame.shape[0]),
                interpolation=cv2.INTER_NEAREST,
            ).astype(bool)
        return result_from_mask(mask)

    def reset(self) -> None:
        pass


class SlowSegmenter(MaskLookupSegmenter):
    """Fault injection: the same masks, but every frame takes `delay` seconds."""

    backend_name = "slow"

    def __init__(self, clip: list[tuple[np.ndarray, np.ndarray]], delay: float = 0.5) -> None:
        super().__init__(clip)
        self.delay = delay

    def process(self, frame: np.ndarray) -> FrameResult:
        time.sleep(self.delay)
        return super().process(frame)


class FailingSegmenter:
    """Fault injection: a model that raises on every frame."""

    backend_name = "failing"

    def __init__(self) -> None:
        self.calls = 0

    def process(self, frame: np.ndarray) -> FrameResult:
        self.calls += 1
        raise RuntimeError("injected fault: CUDA error: an illegal memory access was encountered")

    def reset(self) -> None:
        pass


class HangingSegmenter(MaskLookupSegmenter):
    """Fault injection: answers the first `answers` frames, then hangs (blocks until
    `release()`), as a wedged GPU driver would."""

    backend_name = "hanging"

    def __init__(self, clip: list[tuple[np.ndarray, np.ndarray]], answers: int = 3) -> None:
        import threading

        super().__init__(clip)
        self.answers = answers
        self.hung = threading.Event()
        self._release = threading.Event()

    def process(self, frame: np.ndarray) -> FrameResult:
        if self.calls >= self.answers:
            self.hung.set()
            self._release.wait()
        return super().process(frame)

    def release(self) -> None:
        self._release.set()


def rss_kib() -> int:
    """Resident memory of this process (VmRSS from /proc/self/status), KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


FIXTURE_FRAMES = Path(__file__).parent / "fixtures" / "cvc-clinicdb"


def load_fixture_clip() -> list[tuple[np.ndarray, np.ndarray]]:
    """The same 8 real frames and masks as conftest's `real_clip`, for child processes."""
    clip = []
    for frame_path in sorted((FIXTURE_FRAMES / "Frame" / "seq26").glob("*.jpg")):
        frame = cv2.imread(str(frame_path), cv2.IMREAD_COLOR)
        mask = cv2.imread(
            str(FIXTURE_FRAMES / "GT" / "seq26" / (frame_path.stem + ".png")), cv2.IMREAD_GRAYSCALE
        )
        clip.append((frame, (mask > 127).astype(np.uint8)))
    return clip


def make_tiny_bundle(path: Path) -> Path:
    """A real model bundle with random weights: PNS+ (ResNet-18, 128x224 input) + SAMIHS vit_t."""
    import torch

    from engine.bundle import save_bundle
    from models import build_pns_plus, build_samihs

    torch.manual_seed(0)
    pns = build_pns_plus(backbone="resnet18", input_size=(128, 224))
    return save_bundle(path, pns, build_samihs("vit_t"), "resnet18")


# -- a paced live MJPEG-over-HTTP server on loopback (a network camera) -------------------------

CODE_BITS = 12  # frame numbers up to 4095 are stamped into the picture
CODE_CELL = (24, 16)  # (width, height) of one bit's block, large enough to survive JPEG


def stamp_number(image: np.ndarray, number: int) -> np.ndarray:
    """The frame with `number` written as CODE_BITS black/white blocks along its top edge."""
    stamped = image.copy()
    width, height = CODE_CELL
    for bit in range(CODE_BITS):
        value = 255 if number >> bit & 1 else 0
        stamped[:height, bit * width : (bit + 1) * width] = value
    return stamped


def read_number(image: np.ndarray) -> int:
    """The number stamp_number wrote (survives JPEG and H.264 at ordinary quality)."""
    width, height = CODE_CELL
    number = 0
    for bit in range(CODE_BITS):
        block = image[2 : height - 2, bit * width + 2 : (bit + 1) * width - 2]
        if block.mean() > 127:
            number |= 1 << bit
    return number


class PacedMjpegServer:
    """Serves `frames` as multipart MJPEG over HTTP on 127.0.0.1 at `fps`, like a network
    camera: a clock starts with the server, and every connection gets the frame due now (numbered
    by that clock, stamped into the picture), whether or not the client reads it (a slow client
    finds a backlog in its socket). `drop()` cuts every connection and refuses new ones until
    `resume()`."""

    def __init__(self, frames: list[np.ndarray], fps: float = 10.0) -> None:
        import socket
        import threading

        self.fps = fps
        self.jpegs = [frame for frame in frames]
        self.started = time.monotonic()
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"
        self.connections = 0
        self._accepting = threading.Event()
        self._accepting.set()
        self._closed = threading.Event()
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def current(self) -> int:
        """The number of the frame the clock is at now."""
        return int((time.monotonic() - self.started) * self.fps)

    def _jpeg(self, number: int) -> bytes:
        image = stamp_number(self.jpegs[number % len(self.jpegs)], number)
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        return data.tobytes()

    def _accept(self) -> None:
        import threading

        while not self._closed.is_set():
            try:
                client, _ = self._socket.accept()
            except OSError:
                return
            if not self._accepting.is_set():
                client.close()
                continue
            with self._lock:
                self._clients.append(client)
                self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client) -> None:
        try:
            client.recv(4096)  # the request; any path gets the stream
            client.sendall(
                b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary=frame\r\n"
                b"Cache-Control: no-cache\r\n\r\n"
            )
            number = self.current()
            while not self._closed.is_set() and self._accepting.is_set():
                data = self._jpeg(number)
                client.sendall(
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(data)).encode() + b"\r\n\r\n" + data + b"\r\n"
                )
                number += 1
                delay = self.started + number / self.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:  # a blocked send (full socket): go on with the frame due now
                    number = max(number, self.current())
        except OSError:
            pass
        finally:
            client.close()

    def drop(self) -> None:
        """The camera goes away: every connection is cut, new ones are refused."""
        import socket

        self._accepting.clear()
        with self._lock:
            for client in self._clients:
                try:
                    client.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._clients.clear()

    def resume(self) -> None:
        self._accepting.set()

    def close(self) -> None:
        self._closed.set()
        self.drop()
        self._socket.close()
