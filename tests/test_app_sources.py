"""Sources and the capture stage on real encoded clips: EOF, loop, pacing, a lost stream."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from app_testkit import encode_clip

from app.capture import CapturedFrame, CaptureStage
from app.sources import SourceError, open_source, parse_source


@pytest.fixture(scope="module")
def clip_path(real_clip, tmp_path_factory) -> Path:
    """16 real frames (8 CVC-ClinicDB frames twice) at 25 fps."""
    frames = [frame for frame, _ in real_clip]
    return encode_clip(tmp_path_factory.mktemp("clip") / "clip.mkv", frames, fps=25, repeat=2)


def test_parse_source_kinds():
    assert parse_source("0").kind == "device" and parse_source("0").target == 0
    assert parse_source("/dev/video2").kind == "device"
    assert parse_source("rtsp://10.0.0.2/stream").kind == "url"
    assert parse_source("http://host:8080/live.mkv").is_live
    assert parse_source("case 12/clip.mp4").kind == "file"
    assert not parse_source("clip.mp4").is_live


def test_a_folder_of_frames_plays_in_order_and_names_its_frames(real_clip, tmp_path):
    folder = tmp_path / "case 7"
    folder.mkdir()
    for index, (frame, _) in enumerate(real_clip):  # 8.png, 9.png, 10.png, ...: natural order
        assert cv2.imwrite(str(folder / f"{index + 8}.png"), frame)
    (folder / "readme.txt").write_text("not a frame")
    spec = parse_source(str(folder))
    assert spec.kind == "folder" and not spec.is_live and spec.name == "case 7"
    source = open_source(str(folder))
    try:
        assert source.frame_count == len(real_clip) and source.frame_size == (384, 288)
        assert source.frame_names == [str(index + 8) for index in range(len(real_clip))]
        for frame, _ in real_clip:
            np.testing.assert_array_equal(source.read(), frame)  # lossless, in order
        assert source.read() is None and source.end_message == ""
    finally:
        source.release()


def test_an_unreadable_frame_ends_a_folder_with_its_name(real_clip, tmp_path):
    for index, (frame, _) in enumerate(real_clip[:4]):
        assert cv2.imwrite(str(tmp_path / f"{index:03d}.jpg"), frame)
    (tmp_path / "002.jpg").write_bytes(b"not a jpeg")
    source = open_source(str(tmp_path))
    frames: list[CapturedFrame] = []
    stage = CaptureStage(source, [frames.append], realtime=False)
    stage.start()
    assert stage.finished.wait(20)
    stage.stop()
    assert [frame.index for frame in frames] == [0, 1]  # the frames before it were captured
    assert stage.end_reason == "source error"
    assert "002.jpg" in stage.message and "\n" not in stage.message


def test_open_real_clip(clip_path, real_clip):
    source = open_source(str(clip_path))
    try:
        assert source.fps == pytest.approx(25.0)
        assert source.frame_size == (384, 288)
        first = source.read()
        assert first is not None and first.shape == real_clip[0][0].shape
        assert np.abs(first.astype(int) - real_clip[0][0]).mean() < 4  # near-lossless
    finally:
        source.release()


@pytest.mark.parametrize("kind", ["missing", "random-bytes", "folder", "device-99"])
def test_bad_sources_raise_one_line(kind, tmp_path):
    if kind == "missing":
        text, expected = str(tmp_path / "nope.mp4"), "not found"
    elif kind == "random-bytes":
        path = tmp_path / "random.mp4"
        path.write_bytes(np.random.default_rng(0).bytes(50_000))
        text, expected = str(path), "not a playable video"
    elif kind == "folder":  # a folder without images
        (tmp_path / "notes.txt").write_text("no frames here")
        text, expected = str(tmp_path), "holds no images"
    else:
        text, expected = "99", "capture device 99"
    with pytest.raises(SourceError) as info:
        open_source(text)
    message = str(info.value)
    assert expected in message and "\n" not in message


def _collect(stage_kwargs: dict, source_text: str, timeout: float = 20.0) -> list[CapturedFrame]:
    frames: list[CapturedFrame] = []
    source = open_source(source_text)
    stage = CaptureStage(source, [frames.append], **stage_kwargs)
    stage.start()
    assert stage.finished.wait(timeout)
    stage.stop()
    return frames


def test_end_of_file_stops_cleanly(clip_path):
    frames = _collect({"realtime": False}, str(clip_path))
    assert [f.index for f in frames] == list(range(16))
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(stamps)


def test_loop_restarts_the_file_and_the_model_stream(clip_path):
    restarts: list[int] = []
    frames = _collect(
        {"realtime": False, "loop": True, "max_frames": 40,
         "on_restart": lambda: restarts.append(1)},
        str(clip_path),
    )
    assert len(frames) == 40 and len(restarts) == 2
    assert np.array_equal(frames[0].image, frames[16].image)


def test_files_play_at_the_source_rate(clip_path):
    # 16 frames at 25 fps take 0.6 s of pacing; read unpaced they take a few milliseconds.
    # Only a lower bound is checked (a loaded machine can only make it slower).
    frames = _collect({"realtime": True}, str(clip_path))
    span = frames[-1].timestamp - frames[0].timestamp
    assert len(frames) == 16 and span >= 15 / 25 * 0.9


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_lost_stream_reconnects_with_backoff(clip_path):
    handler = functools.partial(_QuietHandler, directory=str(clip_path.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{clip_path.name}"
    frames: list[CapturedFrame] = []
    restarts: list[float] = []
    source = open_source(url)
    assert source.is_live
    stage = CaptureStage(
        source, [frames.append], on_restart=lambda: restarts.append(time.monotonic()),
        reconnect_initial_s=0.05, reconnect_max_s=0.4,
    )
    stage.start()
    try:
        # the stream "drops" at the end of the file; the stage reconnects and frames go on
        deadline = time.monotonic() + 20
        while not restarts and time.monotonic() < deadline:
            time.sleep(0.02)
        assert restarts, stage.message
        deadline = time.monotonic() + 20
        while len(frames) <= 16 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(frames) > 16
        # now the server goes away: the message says so and the attempts back off
        server.shutdown()
        server.server_close()
        deadline = time.monotonic() + 20
        while "attempt 3" not in stage.message and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "lost; reconnecting" in stage.message and "attempt 3" in stage.message
        assert "next in 0.2 s" in stage.message or "next in 0.4 s" in stage.message
        assert not stage.finished.is_set()
    finally:
        stage.stop()
        if thread.is_alive():
            server.shutdown()
    assert stage.finished.is_set()
