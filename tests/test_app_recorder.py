"""Recording real frames: N in -> N out, user-only files, crash safety, signals, a full disk."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from app_testkit import decode_frames, encode_clip, make_tiny_bundle

from app.overlay import OverlayMode, OverlayStyle, render
from app.recorder import RecordItem, SessionRecorder
from app.session_log import EpisodeTracker, FrameRecord, episodes_from_log, read_log

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def _items(real_clip, count: int, fps: float = 25.0) -> list[RecordItem]:
    """`count` annotated frames; polyp 'present' in frames 5-14 and 30-31 only."""
    items = []
    style = OverlayStyle()
    for i in range(count):
        frame, mask = real_clip[i % len(real_clip)]
        present = 5 <= i < 15 or 30 <= i < 32
        shown = render(frame, mask.astype(bool), OverlayMode.FRESH, style) if present else frame
        record = FrameRecord(
            frame=i, timestamp=100.0 + i / fps, capture_time=1.7e9 + i / fps, polyp=present,
            score=0.8 if present else 0.0, mask_area=int(mask.sum()) if present else 0,
            latency_ms=12.0, result_frame=i, overlay="fresh",
        )
        items.append(RecordItem(shown, frame, record))
    return items


def test_n_frames_in_n_frames_out_with_log_and_summary(real_clip, tmp_path):
    count = 40
    recorder = SessionRecorder(tmp_path / "rec", fps=25.0, record_raw=True, realtime=False,
                               source="clip.mkv", backend="lookup")
    for item in _items(real_clip, count):
        assert recorder.submit(item)
    recorder.stop()
    assert recorder.join(timeout=30)
    assert recorder.error is None
    paths = recorder.paths
    assert set(paths) == {"annotated", "raw", "log", "summary", "report"}
    assert time.strftime("%Y%m%d") in recorder.stem  # names carry the start time
    for path in paths.values():
        assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((tmp_path / "rec").stat().st_mode) == 0o700
    annotated, raw = decode_frames(paths["annotated"]), decode_frames(paths["raw"])
    assert len(annotated) == count and len(raw) == count
    assert annotated[0].shape == raw[0].shape == (288, 384, 3)
    # the annotated video carries the overlay (frame 5 has it), the raw one does not
    assert np.abs(annotated[5].astype(int) - raw[5]).mean() > 3
    assert np.abs(annotated[0].astype(int) - raw[0]).mean() < 3
    records = read_log(paths["log"])
    assert len(records) == count
    assert [r["frame"] for r in records] == list(range(count))
    assert {"t", "frame", "capture_time", "polyp", "score", "boxes", "mask_area",
            "latency_ms"} <= set(records[0])
    summary = json.loads(paths["summary"].read_text())
    assert summary["frames"] == count and summary["dropped_frames"] == 0
    assert summary["duration_s"] == pytest.approx(count / 25.0, abs=1e-3)
    episodes = summary["episodes"]
    assert [(e["start_frame"], e["end_frame"]) for e in episodes] == [(5, 14), (30, 31)]
    assert (episodes[0]["start_s"], episodes[0]["end_s"]) == pytest.approx((0.2, 0.56))
    assert episodes_from_log(paths["log"]) == episodes  # rebuildable after a crash


def test_recorded_masks_are_the_masks_given_frame_by_frame(real_clip, tmp_path):
    import cv2

    recorder = SessionRecorder(tmp_path / "rec", fps=25.0, record_masks=True, realtime=False)
    items = _items(real_clip, 12)
    for item in items:
        present = item.record.polyp
        mask = real_clip[item.record.frame % len(real_clip)][1].astype(bool) if present else None
        assert recorder.submit(RecordItem(item.annotated, None, item.record, mask))
    recorder.stop()
    assert recorder.join(timeout=30) and recorder.error is None
    folder = recorder.paths["masks"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = sorted(folder.glob("*.png"))
    assert [int(p.stem) for p in files] == list(range(12))
    for item, path in zip(items, files, strict=True):
        saved = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 0
        expected = real_clip[item.record.frame % len(real_clip)][1].astype(bool)
        if item.record.polyp:
            assert np.array_equal(saved, expected), path
        else:
            assert not saved.any(), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_episode_gaps_shorter_than_the_limit_do_not_split():
    tracker = EpisodeTracker(max_gap_s=0.5)
    for i, present in enumerate([1, 1, 0, 0, 1, 1] + [0] * 20 + [1]):
        tracker.update(i, i * 0.1, bool(present), 0.5 + i / 100)
    episodes = tracker.finish()
    assert [(e["start_frame"], e["end_frame"]) for e in episodes] == [(0, 5), (26, 26)]
    assert episodes[0]["max_score"] == pytest.approx(0.55)


def test_a_full_queue_makes_the_producer_wait_and_drops_nothing(real_clip, tmp_path):
    """Frames handed in far faster than the encoder writes them: with a 2-frame queue every one
    is still recorded (submit waits), and the summary says the encoder fell behind."""
    recorder = SessionRecorder(tmp_path, fps=25.0, queue_size=2, realtime=True)
    items = _items(real_clip, 40)
    accepted = sum(recorder.submit(item) for item in items)
    recorder.stop("end of source")
    assert recorder.join(timeout=30)
    summary = json.loads(recorder.paths["summary"].read_text())
    assert accepted == 40
    assert summary["frames"] == summary["frames_captured"] == 40
    assert len(decode_frames(recorder.paths["annotated"])) == 40
    assert summary["dropped_frames"] == 0 and summary["stopped_by"] == "end of source"
    assert summary["encoder_behind"] and summary["encoder_max_backlog"] == 2
    assert summary["capture_waited_for_encoder_s"] > 0


def _run_recorder_until_full(real_clip, folder: Path) -> tuple[SessionRecorder, int]:
    recorder = SessionRecorder(folder, fps=25.0, realtime=False)
    submitted = 0
    for item in _items(real_clip, 2000):
        if not recorder.submit(item):
            break
        submitted += 1
    recorder.stop()
    assert recorder.join(timeout=60)
    return recorder, submitted


def _check_kept(recorder: SessionRecorder) -> None:
    assert recorder.error is not None and recorder.error.startswith("recording stopped: ")
    assert "kept" in recorder.error
    kept = decode_frames(recorder.paths["annotated"])
    lines = read_log(recorder.paths["log"])
    assert len(lines) >= 10
    assert len(kept) >= len(lines) - 2  # every logged frame but the last cluster is playable


def test_a_full_disk_stops_recording_and_keeps_what_was_written(real_clip, tmp_path):
    """A real 1 MiB tmpfs (needs root and mount permission; skipped otherwise); the summary is
    still written (a reserve file kept room for it) and names the cause."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        recorder, submitted = _run_recorder_until_full(real_clip, mount / "rec")
        assert "No space left on device" in recorder.error
        assert submitted < 2000
        _check_kept(recorder)
        summary = json.loads(recorder.paths["summary"].read_text())
        assert summary["stopped_by"] == "disk full" and summary["error"] == recorder.error
        assert summary["frames"] == recorder.frames_written
    finally:
        subprocess.run(["umount", str(mount)], check=False)


CHILD_FSIZE = textwrap.dedent("""
    import json, resource, signal, sys
    sys.path.insert(0, {tests!r})
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, resource.RLIM_INFINITY))
    from app.config import LiveConfig
    from app.headless import run_headless
    from app.pipeline import LivePipeline
    from app.sources import open_source
    from app_testkit import MaskLookupSegmenter, load_fixture_clip
    config = LiveConfig(source={clip!r}, loop=True, realtime=False, max_frames=1500,
                        record_dir={record!r})
    pipeline = LivePipeline(config, open_source(config.source),
                            MaskLookupSegmenter(load_fixture_clip()))
    pipeline.start()
    shown = run_headless(pipeline)
    recorder = pipeline._closing[-1] if pipeline._closing else pipeline.recorder
    pipeline.close()
    print(json.dumps({{"shown": shown, "error": recorder.error,
                      "written": recorder.frames_written}}))
""")


def test_a_file_size_limit_stops_recording_while_the_stream_goes_on(real_clip, tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse writes past 300 kB (EFBIG), like a full disk."""
    clip = encode_clip(tmp_path / "clip.mkv", [f for f, _ in real_clip], repeat=2)
    script = tmp_path / "child.py"
    script.write_text(CHILD_FSIZE.format(tests=str(TESTS), clip=str(clip),
                                         record=str(tmp_path / "rec")))
    done = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout.strip().splitlines()[-1])
    assert status["shown"] == 1500  # the stream went on to the end
    assert status["error"].startswith("recording stopped: File too large")
    (summary,) = (tmp_path / "rec").glob("session_*_summary.json")
    assert json.loads(summary.read_text())["stopped_by"] == "write error"
    assert "recording stopped" in done.stderr and "Traceback" not in done.stderr
    assert 10 < status["written"] < 1500
    video = next((tmp_path / "rec").glob("session_*_annotated.mkv"))
    kept = decode_frames(video)
    assert len(kept) >= status["written"] - 30


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory) -> Path:
    return make_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")


def _start_cli(
    clip: Path, record: Path, bundle: Path, headless: bool = True
) -> subprocess.Popen:
    """The real command (window: Qt offscreen), recording a looped clip; stderr to a file."""
    script = Path(sys.executable).with_name("polyp-live")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "app.main"]
    command += ["--source", str(clip), "--loop", "--record", str(record),
                "--model", str(bundle), "--backend", "torch"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "offscreen"}
    with open(record.with_suffix(".stderr"), "w") as stderr:
        return subprocess.Popen(
            command + (["--headless"] if headless else []),
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )


def _stderr(record: Path) -> str:
    return record.with_suffix(".stderr").read_text()


def _wait_for_lines(record: Path, lines: int, process: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, _stderr(record)
        logs = list(record.glob("session_*_frames.jsonl"))
        if logs and len(logs[0].read_bytes().splitlines()) >= lines:
            return logs[0]
        time.sleep(0.05)
    raise AssertionError(f"fewer than {lines} frames recorded in 120 s")


@pytest.fixture(scope="module")
def loop_clip(real_clip, tmp_path_factory) -> Path:
    frames = [f for f, _ in real_clip]
    return encode_clip(tmp_path_factory.mktemp("clip") / "clip.mkv", frames, repeat=3)


@pytest.mark.slow
def test_sigkill_mid_recording_keeps_all_but_the_last_second(loop_clip, tiny_bundle, tmp_path):
    record = tmp_path / "rec"
    process = _start_cli(loop_clip, record, tiny_bundle)
    try:
        log = _wait_for_lines(record, 75, process)  # 3 s at 25 fps
        killed_at = time.time()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    video = log.with_name(log.name.replace("_frames.jsonl", "_annotated.mkv"))
    frames = decode_frames(video)
    records = read_log(log)
    print(f"SIGKILL: {len(records)} log lines, {len(frames)} frames decode from the MKV")
    assert len(frames) >= 50 and frames[0].shape == (288, 384, 3)
    # the last playable frame was captured less than a second before the kill
    last_playable = records[min(len(frames), len(records)) - 1]
    assert last_playable["capture_time"] >= killed_at - 1.0
    # what the log holds: one line per frame written, in session order, the last one whole
    # (lines are flushed one by one after their frame was muxed), so the video holds at least
    # every logged frame but the last cluster, and the log at most a few frames less than it
    assert [r["session_frame"] for r in records] == list(range(len(records)))
    assert len(records) - 25 <= len(frames) <= len(records) + 1
    assert not log.with_name(log.name.replace("_frames.jsonl", "_summary.json")).exists()


@pytest.mark.slow
def test_sigint_and_sigterm_close_the_files_cleanly(loop_clip, tiny_bundle, tmp_path):
    """SIGINT to a headless run, SIGTERM to a windowed one (Qt offscreen)."""
    runs = {}
    for signum, headless in ((signal.SIGINT, True), (signal.SIGTERM, False)):
        record = tmp_path / signum.name
        runs[signum] = (record, _start_cli(loop_clip, record, tiny_bundle, headless))
    try:
        for signum, (record, process) in runs.items():
            _wait_for_lines(record, 25, process)
            process.send_signal(signum)
        for signum, (record, process) in runs.items():
            assert process.wait(timeout=60) == 128 + signum, _stderr(record)
            stderr = _stderr(record)
            assert "Traceback" not in stderr, stderr
            summary_path = next(record.glob("session_*_summary.json"))
            summary = json.loads(summary_path.read_text())
            stem = summary_path.name.removesuffix("_summary.json")
            frames = decode_frames(record / f"{stem}_annotated.mkv")
            log = read_log(record / f"{stem}_frames.jsonl")
            assert summary["frames"] == len(frames) == len(log)
            assert summary["stopped_by"] == "signal" and summary["frames"] >= 25
            assert summary["frames"] == summary["frames_captured"]
    finally:
        for _, process in runs.values():
            process.kill()


def test_model_results_are_counted_per_session_frame_across_loops(tmp_path):
    """A looped 3-frame file: positions 0,1,2,0,1,2. Each position's result of the second pass
    is a new result (the summary's model rate counts it); a result shown on two frames counts
    once. Keyed by source position, the second pass vanished (a looped hour read 0.06 fps)."""
    from app.session_log import SessionLog

    log = SessionLog(tmp_path / "frames.jsonl")
    for session_frame in range(6):
        age = 1 if session_frame == 5 else 0  # the last frame still shows frame 4's result
        log.write(
            FrameRecord(
                frame=session_frame % 3, timestamp=session_frame / 30, capture_time=0.0,
                latency_ms=40.0, result_frame=session_frame % 3 - age, overlay="fresh",
                session_frame=session_frame, result_age_frames=age,
            ),
            session_frame / 30,
        )
    log.close()
    summary = log.results.summary(duration_s=0.2)
    assert summary["results"] == 5
    assert summary["model_fps"] == 25.0
