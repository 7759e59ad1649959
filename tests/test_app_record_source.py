"""Recording at the source: every captured frame is recorded whatever the display does, live
streams start fresh, and faults mid-recording (model raises or hangs, stream lost and back, full
disk) leave a playable recording whose summary names the real cause."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from app_testkit import (
    FailingSegmenter,
    HangingSegmenter,
    MaskLookupSegmenter,
    PacedMjpegServer,
    decode_frames,
    read_number,
)

from app.config import LiveConfig
from app.headless import run_headless
from app.overlay import OverlayMode
from app.pipeline import LivePipeline, ShownFrame
from app.session_log import read_log
from app.sources import open_source


def _session(folder: Path) -> tuple[dict, list[dict], list]:
    """The summary, log lines and decoded annotated frames of the one session in `folder`."""
    (summary_path,) = folder.glob("session_*_summary.json")
    stem = summary_path.name.removesuffix("_summary.json")
    summary = json.loads(summary_path.read_text())
    return (
        summary,
        read_log(folder / f"{stem}_frames.jsonl"),
        decode_frames(folder / f"{stem}_annotated.mkv"),
    )


def _assert_consistent(log: list[dict]) -> None:
    """Log fields never contradict each other; session counters run without a hole."""
    for line in log:
        assert line["polyp"] is None or line["polyp"] == (line["mask_area"] > 0), line
        assert line["polyp"] or not line["boxes"], line
        if line["result_frame"] is not None:
            assert line["result_frame"] == line["frame"] - line["result_age_frames"], line
            assert line["result_age_frames"] >= 0 and line["result_age_ms"] >= 0, line
    counters = [line["session_frame"] for line in log]
    assert counters == list(range(counters[0], counters[0] + len(log)))


def test_slow_display_still_records_every_captured_frame(clip_path, real_clip, tmp_path):
    """Acceptance: a display far slower than the source; N captured -> N in the video, N lines."""
    record = tmp_path / "rec"
    config = LiveConfig(
        source=str(clip_path), loop=True, max_frames=60, record_dir=str(record), record_masks=True
    )
    pipeline = LivePipeline(config, open_source(config.source), MaskLookupSegmenter(real_clip))
    pipeline.start()
    try:
        shown = run_headless(pipeline, on_frame=lambda frame: time.sleep(0.15))  # ~6 fps display
    finally:
        pipeline.close()
    captured = pipeline.capture.frames_captured
    assert captured == 60
    assert shown < captured  # the display did skip (the test would pass without it otherwise)
    summary, log, frames = _session(record)
    assert len(frames) == len(log) == summary["frames"] == summary["frames_captured"] == captured
    assert summary["dropped_frames"] == 0 and summary["stopped_by"] == "max frames"
    # frame numbers are positions in the 24-frame clip (it loops); session_frame counts on
    assert [line["frame"] for line in log] == [i % 24 for i in range(60)]
    assert [line["session_frame"] for line in log] == list(range(60))
    _assert_consistent(log)
    # one probability map per recorded frame: the first pass by source position, the frames the
    # loop brought again with their session frame added
    (masks,) = record.glob("session_*_masks")
    names = sorted(path.stem for path in (masks / clip_path.stem).glob("*.png"))
    expected = [f"{i % 24:06d}" + (f"_s{i:06d}" if i >= 24 else "") for i in range(60)]
    assert names == sorted(expected)
    with_result = [line for line in log if line["result_frame"] is not None]
    assert len(with_result) >= 30  # the model answered for most of the session
    # each line says which frame's result it carries and how old it is
    assert all(line["result_age_ms"] < 2000 for line in with_result)


def test_live_stream_started_before_the_pipeline_shows_no_backlog(real_clip, tmp_path):
    """Acceptance: a 10 fps camera sends while the model 'loads' (2 s: 20 frames pile up in
    the socket); the first frame shown is the current one and no backlog frame is shown."""
    server = PacedMjpegServer([frame for frame, _ in real_clip], fps=10.0)
    record = tmp_path / "rec"
    try:
        source = open_source(server.url)
        time.sleep(2.0)  # the model loads; the stream is already arriving
        ready = server.current()
        config = LiveConfig(source=server.url, record_dir=str(record), record_raw=True)
        pipeline = LivePipeline(config, source, MaskLookupSegmenter(real_clip))
        pipeline.start()
        seen: list[tuple[int, int]] = []  # (number shown, the server's number at that moment)
        try:
            deadline = time.monotonic() + 30
            while len(seen) < 15 and time.monotonic() < deadline:
                shown = pipeline.poll(timeout=0.2)
                if shown is not None:
                    seen.append((read_number(shown.raw), server.current()))
        finally:
            pipeline.close()
    finally:
        server.close()
    assert len(seen) >= 15, seen
    first, now = seen[0]
    print(f"ready at frame {ready}; first shown {first} while the camera was at {now}")
    assert first >= ready  # not from the backlog (frames 0..ready-1)
    assert now - first <= 3  # recent: at most 0.3 s behind the camera (bound for a busy machine)
    assert all(number >= ready and current - number <= 3 for number, current in seen), seen
    summary, log, frames = _session(record)
    assert len(frames) == len(log) == summary["frames_captured"]
    (raw,) = record.glob("session_*_raw.mkv")  # the annotated one has the overlay's tag on top
    assert read_number(decode_frames(raw)[0]) >= ready  # nor is the backlog recorded
    assert summary["stopped_by"] == "user"


def test_model_that_raises_the_recording_has_every_frame(clip_path, tmp_path):
    record = tmp_path / "rec"
    config = LiveConfig(source=str(clip_path), loop=True, max_frames=50, record_dir=str(record))
    pipeline = LivePipeline(config, open_source(config.source), FailingSegmenter())
    pipeline.start()
    try:
        run_headless(pipeline)
    finally:
        pipeline.close()
    summary, log, frames = _session(record)
    assert len(frames) == len(log) == summary["frames"] == 50
    assert summary["stopped_by"] == "max frames"
    assert log[-1]["error"].startswith("RuntimeError: injected fault")
    assert all(line["polyp"] is None and line["overlay"] in ("waiting", "off") for line in log)


def test_model_that_hangs_the_video_and_recording_go_on(long_clip, real_clip, tmp_path):
    record = tmp_path / "rec"
    segmenter = HangingSegmenter(real_clip, answers=3)
    config = LiveConfig(source=str(long_clip), max_frames=75, record_dir=str(record))
    pipeline = LivePipeline(config, open_source(config.source), segmenter)
    shown: list[ShownFrame] = []
    pipeline.start()
    try:
        run_headless(pipeline, on_frame=shown.append)
        started = time.monotonic()
    finally:
        pipeline.close()
        segmenter.release()
    assert time.monotonic() - started < 10  # a wedged model does not hold up closing
    assert segmenter.hung.is_set()
    assert shown[-1].mode is OverlayMode.OFF  # 3 s of video on: the old result is hidden
    summary, log, frames = _session(record)
    assert len(frames) == len(log) == summary["frames"] == 75
    assert summary["stopped_by"] == "max frames"
    _assert_consistent(log)
    last = log[-1]
    assert last["overlay"] == "off" and last["result_age_frames"] >= 40
    assert last["result_age_ms"] >= 1500


def test_lost_stream_reconnects_into_the_same_recording_with_the_gap_logged(real_clip, tmp_path):
    server = PacedMjpegServer([frame for frame, _ in real_clip], fps=20.0)
    record = tmp_path / "rec"
    config = LiveConfig(
        source=server.url, record_dir=str(record), reconnect_initial_s=0.1, reconnect_max_s=0.2
    )
    pipeline = LivePipeline(config, open_source(server.url), MaskLookupSegmenter(real_clip))
    pipeline.start()

    def wait_frames(count: int) -> None:
        target = pipeline.capture.frames_captured + count
        deadline = time.monotonic() + 30
        while pipeline.capture.frames_captured < target and time.monotonic() < deadline:
            pipeline.poll(timeout=0.05)
        assert pipeline.capture.frames_captured >= target, pipeline.problem()

    try:
        wait_frames(20)
        server.drop()  # the camera goes away for a second
        deadline = time.monotonic() + 20
        while "lost; reconnecting" not in pipeline.problem() and time.monotonic() < deadline:
            pipeline.poll(timeout=0.05)
        assert "lost; reconnecting" in pipeline.problem()
        time.sleep(1.0)
        server.resume()
        wait_frames(20)
        server.drop()  # and again, for good: the session ends while it is lost
        deadline = time.monotonic() + 20
        while pipeline.capture.lost_since is None and time.monotonic() < deadline:
            pipeline.poll(timeout=0.05)
    finally:
        pipeline.close()
        server.close()
    summary, log, frames = _session(record)
    assert len(frames) == len(log) == summary["frames"] == summary["frames_captured"]
    assert summary["stopped_by"] == "source lost"
    (gap,) = summary["gaps"]
    assert gap["seconds"] >= 1.0
    after = next(line for line in log if line["gap_s"] is not None)
    assert after["gap_s"] == gap["seconds"] and after["frame"] == 0  # the stream's first frame
    assert after["session_frame"] == gap["session_frame"] >= 20
    _assert_consistent(log)


def test_a_full_disk_mid_session_stops_the_recording_not_the_stream(clip_path, real_clip, tmp_path):
    """A real 1 MiB tmpfs (root only): the recording stops with 'disk full' in its summary, the
    stream goes on, what was written plays."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        config = LiveConfig(
            source=str(clip_path), loop=True, max_frames=2000, record_dir=str(mount / "rec")
        )
        pipeline = LivePipeline(
            config, open_source(config.source), MaskLookupSegmenter(real_clip), pace_files=False
        )
        pipeline.start()
        try:
            run_headless(pipeline)
        finally:
            pipeline.close()
        assert pipeline.capture.frames_captured == 2000  # the stream went on to the end
        summary, log, frames = _session(mount / "rec")
        assert summary["stopped_by"] == "disk full"
        assert "No space left on device" in summary["error"]
        assert 10 <= summary["frames"] < 2000
        assert len(frames) >= summary["frames"] - 30  # all but the last cluster plays
        assert len(log) >= summary["frames"] - 1
    finally:
        subprocess.run(["umount", str(mount)], check=False)
