"""The session report from a real recorded session: `polyp-live --headless --record` on the
bundled demo clip with the bundled model writes it when the recording closes; its numbers equal
the summary and the frame log, it needs no network, and a real browser renders it."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from app_testkit import decode_frames

from app.session_log import episodes_from_log, read_log

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


class PageParser(HTMLParser):
    """Every tag with its attributes, and the text of each table row by table class."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.rows: dict[str, list[list[str]]] = {}
        self._table = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if tag == "table":
            self._table = attributes.get("class", "")
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.setdefault(self._table, []).append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict:
    """A real recording of the demo clip; its files, summary, log and parsed report."""
    folder = tmp_path_factory.mktemp("recording")
    finished = subprocess.run(
        [sys.executable, "-m", "app.main", "--source", str(REPO / "assets" / "demo_clip.mp4"),
         "--headless", "--record", str(folder)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    (summary_path,) = folder.glob("session_*_summary.json")
    summary = json.loads(summary_path.read_text())
    report = folder / summary["files"]["report"]
    parser = PageParser()
    parser.feed(report.read_text(encoding="utf-8"))
    return {
        "folder": folder, "summary": summary, "report": report, "page": parser,
        "stdout": finished.stdout,
        "log": read_log(folder / summary["files"]["log"]),
        "video": folder / summary["files"]["annotated"],
    }


def test_the_command_lists_the_files_it_wrote(session):
    """`make demo` relies on this: the real names, not a pattern."""
    listed = [line.removeprefix("wrote ") for line in session["stdout"].splitlines()
              if line.startswith("wrote ")]
    expected = {str(session["folder"] / name) for name in session["summary"]["files"].values()}
    assert set(listed) == expected and all(Path(p).is_file() for p in listed)


def _value(cell: str) -> float:
    return float(cell.split()[0])


def test_report_is_written_when_the_recording_closes_and_is_self_contained(session):
    report, page = session["report"], session["page"]
    assert report.is_file() and stat.S_IMODE(report.stat().st_mode) == 0o600
    links = [(tag, name, value) for tag, attrs in page.tags for name, value in attrs.items()
             if name in ("src", "href")]
    assert links, "the report links nothing"
    for tag, _name, value in links:
        assert not value.lower().startswith(("http:", "https:", "//", "ftp:")), (tag, value)
        if tag == "img":
            assert value.startswith("data:image/"), value  # images inline
    assert not [attrs for tag, attrs in page.tags if tag == "link"]  # no external stylesheets
    assert not [attrs for tag, attrs in page.tags if tag == "script" and "src" in attrs]
    timeline = [attrs for tag, attrs in page.tags if attrs.get("id") == "timeline"]
    assert len(timeline) == 1 and timeline[0]["src"].startswith("data:image/png;base64,")
    png = base64.b64decode(timeline[0]["src"].split(",", 1)[1])
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[1] >= 800 and image.std() > 10


def test_one_thumbnail_per_episode_the_peak_frame_linked_to_its_time(session):
    summary, page, log = session["summary"], session["page"], session["log"]
    episodes = summary["episodes"]
    assert len(episodes) >= 1  # the demo clip shows polyps
    figures = [attrs for tag, attrs in page.tags if attrs.get("class") == "episode"]
    assert len(figures) == len(episodes)
    images = [attrs["src"] for tag, attrs in page.tags
              if tag == "img" and attrs.get("src", "").startswith("data:image/jpeg")]
    anchors = [attrs for tag, attrs in page.tags if tag == "a" and "data-t" in attrs]
    assert len(images) == len(anchors) == len(episodes)
    frames = decode_frames(session["video"])
    assert len(frames) == len(log) == summary["frames"]
    for episode, source, anchor in zip(episodes, images, anchors, strict=True):
        inside = [i for i, r in enumerate(log)
                  if episode["start_frame"] <= r["frame"] <= episode["end_frame"]]
        peak = max(inside, key=lambda i: log[i]["mask_area"])
        assert log[peak]["mask_area"] == episode["max_area"] > 0
        assert float(anchor["data-t"]) == pytest.approx(log[peak]["t"], abs=1e-3)
        assert anchor["href"] == f"{session['video'].name}#t={log[peak]['t']:.3f}"
        thumb = cv2.imdecode(
            np.frombuffer(base64.b64decode(source.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR
        )
        expected = cv2.resize(frames[peak], (thumb.shape[1], thumb.shape[0]),
                              interpolation=cv2.INTER_AREA)
        assert np.abs(thumb.astype(int) - expected).mean() < 4  # the peak frame, overlay drawn


def test_report_numbers_equal_the_summary_and_the_frame_log(session):
    summary, log, rows = session["summary"], session["log"], session["page"].rows
    # the summary agrees with the log it was written from
    assert summary["frames"] == len(log)
    assert summary["episodes"] == episodes_from_log(session["folder"] / summary["files"]["log"])
    latency = {}
    for r in log:
        if r["result_frame"] is not None:
            latency.setdefault(r["result_frame"], r["latency_ms"])
    assert summary["results"] == len(latency) > 0
    assert summary["latency_ms_p50"] == pytest.approx(np.percentile(list(latency.values()), 50),
                                                      abs=0.05)
    assert summary["latency_ms_p95"] == pytest.approx(np.percentile(list(latency.values()), 95),
                                                      abs=0.05)
    # model_fps is rounded to 2 places from the unrounded duration, duration_s to 3 places:
    # both roundings bound the difference
    duration = summary["duration_s"]
    rate = len(latency) / duration
    assert summary["model_fps"] == pytest.approx(rate, abs=0.005 + rate * 0.0005 / duration + 1e-9)
    # the page shows the summary's numbers
    facts = {row[0]: row[1] for row in rows["facts"]}
    assert facts["source"] == summary["source"] and facts["back end"] == summary["backend"]
    assert facts["model"] == summary["model"]
    assert int(facts["frames"]) == summary["frames"]
    assert int(facts["dropped frames"]) == summary["dropped_frames"]
    model_rate = _value(facts["model rate (results shown)"])
    assert model_rate == pytest.approx(summary["model_fps"], abs=0.005)
    p50, p95 = facts["latency p50 / p95"].split(" / ")
    assert _value(p50) == pytest.approx(summary["latency_ms_p50"], abs=0.05)
    assert _value(p95) == pytest.approx(summary["latency_ms_p95"], abs=0.05)
    table = rows["episodes"][1:]  # after the header
    assert len(table) == len(summary["episodes"])
    for row, episode in zip(table, summary["episodes"], strict=True):
        start, end, duration, score, area = (_value(cell) for cell in row[1:])
        assert start == pytest.approx(episode["start_s"], abs=5e-4)
        assert end == pytest.approx(episode["end_s"], abs=5e-4)
        assert duration == pytest.approx(episode["end_s"] - episode["start_s"], abs=1e-3)
        assert score == pytest.approx(episode["max_score"], abs=5e-5)
        assert area == episode["max_area"]


def test_polyp_report_command_writes_and_rejects_bad_input(session, tmp_path):
    out = tmp_path / "again.html"
    command = [sys.executable, "-m", "app.report.cli"]
    done = subprocess.run(command + [str(session["video"]), "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out) and out.stat().st_size > 10_000
    bad = subprocess.run(command + [str(tmp_path / "nothing-here")], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [
        f"polyp-report: error: {tmp_path / 'nothing-here'} not found; pass a recording folder "
        "or a session file"
    ]


def _chromium() -> str | None:
    return next((p for name in ("chromium", "chromium-browser") if (p := shutil.which(name))),
                None)


@pytest.mark.skipif(_chromium() is None,
                    reason="Chromium not installed (Debian: apt-get install chromium; make setup "
                    "installs it where it runs as root)")
def test_report_renders_in_headless_chromium(session, tmp_path):
    screenshot = tmp_path / "report.png"
    command = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
               f"--screenshot={screenshot}", "--window-size=1200,1400",
               session["report"].resolve().as_uri()]
    env = {k: v for k, v in os.environ.items() if k not in ("http_proxy", "https_proxy")}
    subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    image = cv2.imread(str(screenshot), cv2.IMREAD_COLOR)
    assert image is not None, "Chromium wrote no screenshot"
    assert image.shape[:2] == (1400, 1200)
    # not blank: a white page with dark text, the plotted timeline and colour thumbnails
    assert (image < 100).mean() > 0.01
    saturation = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)[..., 1]
    assert (saturation > 80).mean() > 0.02


def test_timeline_marks_dropped_frames_and_stale_stretches(real_clip, tmp_path):
    """A session with frames never recorded (a gap in frame numbers) and a stale overlay: the
    summary counts the drops, the page shows that count and the timeline draws both marks."""
    from app.overlay import OverlayMode, OverlayStyle, render
    from app.recorder import RecordItem, SessionRecorder
    from app.session_log import FrameRecord

    recorder = SessionRecorder(tmp_path, fps=25.0, realtime=False, source="synthetic")
    frames = [i for i in range(60) if not 30 <= i < 35]  # 5 frames dropped
    for i in frames:
        frame, mask = real_clip[i % len(real_clip)]
        present, stale = 10 <= i < 50, 40 <= i < 50
        mode = OverlayMode.STALE if stale else OverlayMode.FRESH
        image = render(frame, mask.astype(bool), mode, OverlayStyle()) if present else frame
        record = FrameRecord(
            frame=i, timestamp=i / 25, capture_time=1.7e9 + i / 25, polyp=present,
            score=0.7 if present else 0.1, mask_area=int(mask.sum()) + i if present else 0,
            latency_ms=40.0 + i, result_frame=i, overlay=mode.value,
        )
        assert recorder.submit(RecordItem(image, None, record))
    recorder.stop()
    assert recorder.join(timeout=60) and recorder.error is None
    summary = json.loads(recorder.paths["summary"].read_text())
    assert summary["dropped_frames"] == 5 and summary["frames"] == 55
    parser = PageParser()
    parser.feed(recorder.paths["report"].read_text(encoding="utf-8"))
    facts = {row[0]: row[1] for row in parser.rows["facts"]}
    assert facts["dropped frames"] == "5"
    (timeline,) = [a["src"] for t, a in parser.tags if a.get("id") == "timeline"]
    png = base64.b64decode(timeline.split(",", 1)[1])
    hsv = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR),
                       cv2.COLOR_BGR2HSV)
    saturated = hsv[..., 1] > 150
    red = saturated & ((hsv[..., 0] < 5) | (hsv[..., 0] > 175))  # the dropped-frames line
    amber = saturated & (hsv[..., 0] > 18) & (hsv[..., 0] < 26)  # the stale bar
    # (the legend alone holds ~180 amber pixels and no red one: the marks are well above that)
    assert red.sum() > 150 and amber.sum() > 600


def _hour_long_copy(session: dict, folder: Path, lines: int = 108_000) -> Path:
    """The recorded session with its frame log played on to `lines` frames (an hour at 30 fps):
    the real lines repeated, time and frame counter running on; the same summary and video."""
    log = session["log"]
    step = log[1]["t"] - log[0]["t"]
    folder.mkdir()
    for name in session["summary"]["files"].values():
        if not name.endswith(".jsonl"):
            shutil.copy(session["folder"] / name, folder / name)
    with (folder / session["summary"]["files"]["log"]).open("w", encoding="utf-8") as file:
        for n in range(lines):
            record = dict(log[n % len(log)], t=round(n * step, 4), session_frame=n)
            file.write(json.dumps(record) + "\n")
    summary = next(folder.glob("session_*_summary.json"))
    return summary


def test_an_hour_long_log_is_read_and_reported_in_bounded_memory(session, tmp_path):
    """The report is written as the recording closes: an hour's frame log (108,000 lines) must
    not be held as Python objects (that took ~260 MiB more at the close of an hour)."""
    import tracemalloc

    from app.report.page import write_report
    from app.report.session import STALE_MODES, FrameColumns, load_session

    columns = FrameColumns.read(session["folder"] / session["summary"]["files"]["log"])
    log = session["log"]
    assert len(columns) == len(log)
    assert np.array_equal(columns.t, [r["t"] for r in log])
    assert np.array_equal(columns.present, [bool(r["polyp"]) for r in log])
    assert np.array_equal(columns.stale, [r["overlay"] in STALE_MODES for r in log])
    assert np.array_equal(columns.counter, [r["session_frame"] for r in log])
    expected_scores = [np.nan if r["score"] is None else r["score"] for r in log]
    np.testing.assert_allclose(columns.score, expected_scores, rtol=1e-6)

    summary = _hour_long_copy(session, tmp_path / "hour")
    tracemalloc.start()
    try:
        assert len(load_session(summary).frames) == 108_000
        report = write_report(summary, tmp_path / "hour" / "report.html")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 48 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    parser = PageParser()
    parser.feed(report.read_text(encoding="utf-8"))
    assert any(a.get("id") == "timeline" for _, a in parser.tags)
