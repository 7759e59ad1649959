"""`python -m app.soak`: the recording soak. A real clip, looped, runs headless with recording on
for N frames (108,000 = one hour at 30 fps) as fast as the machine goes (the file is not paced;
otherwise it is the live graph: display and model may skip frames, the recorder may not).

It measures resident memory (RSS) over the run, captured vs recorded frames, exceptions (model
errors, uncaught exceptions in any thread, a recording error), and decodes the whole annotated
video with PyAV to count its frames. RSS growth is counted while frames are captured, from frame
WARM_UP_FRAMES on; the close that follows (trailer, summary, HTML report) is reported apart as
`rss_mib_peak_closing`. The numbers go to stdout and to
DIR/soak.json; the exit status is 0 when every check holds (recorded == captured == decoded, no
exception, RSS growth under --max-growth-mb), 1 otherwise, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .config import LiveConfig
from .sources import SourceError, open_source

DEMO_CLIP = Path(__file__).resolve().parents[1] / "assets" / "demo_clip.mp4"
SAMPLE_S = 1.0  # RSS sampling period
WARM_UP_FRAMES = 1000  # RSS growth is counted from here (model, encoder and queues allocated)


def rss_mib() -> float:
    """Resident memory of this process (VmRSS), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def count_video_frames(path: Path) -> tuple[int, str | None]:
    """Frames PyAV decodes from `path` to its end, and the error that stopped it early (None)."""
    import av

    frames = 0
    try:
        with av.open(str(path)) as container:
            for _ in container.decode(video=0):
                frames += 1
    except av.error.FFmpegError as error:
        return frames, f"{type(error).__name__}: {error}"
    return frames, None


def log_problems(path: Path) -> list[str]:
    """Contradictions in a session log: a line whose polyp, boxes and mask area disagree, a
    result age that does not match its frames, or a hole in the session's frame counter."""
    from .session_log import iter_log

    problems: list[str] = []
    expected = None
    for line in iter_log(path):
        counter = line["session_frame"]
        if expected is not None and counter != expected:
            problems.append(f"session_frame {counter} after {expected - 1}")
        expected = counter + 1
        if line["polyp"] is not None and line["polyp"] != (line["mask_area"] > 0):
            problems.append(f"frame {counter}: polyp {line['polyp']}, area {line['mask_area']}")
        if not line["polyp"] and line["boxes"]:
            problems.append(f"frame {counter}: boxes without a polyp")
        if line["result_frame"] is not None and (
            line["result_frame"] != line["frame"] - line["result_age_frames"]
        ):
            problems.append(f"frame {counter}: result_frame and result_age_frames disagree")
    return problems


class _Exceptions:
    """Counts exceptions that escape any thread while installed."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._previous = threading.excepthook

    def __enter__(self) -> _Exceptions:
        threading.excepthook = self._hook
        return self

    def _hook(self, args: threading.ExceptHookArgs) -> None:
        self.seen.append(f"{args.exc_type.__name__}: {args.exc_value}")
        self._previous(args)

    def __exit__(self, *exc: object) -> None:
        threading.excepthook = self._previous


def run_soak(
    frames: int,
    out: Path,
    segmenter: Any,
    source: Path = DEMO_CLIP,
    max_growth_mb: float = 50.0,
) -> dict[str, Any]:
    """Runs the soak; returns its numbers (see the module doc). `segmenter`: the model."""
    from .headless import run_headless
    from .pipeline import LivePipeline

    config = LiveConfig(source=str(source), loop=True, max_frames=frames, record_dir=str(out))
    pipeline = LivePipeline(config, open_source(str(source)), segmenter, pace_files=False)
    samples: list[tuple[int, float]] = []  # (frames captured, RSS MiB) while capturing
    closing: list[float] = []  # RSS MiB once the capture ended (files closed, report written)
    banners: set[str] = set()  # every problem the screen showed
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_S):
            if pipeline.capture.finished.is_set():
                closing.append(round(rss_mib(), 1))
            else:
                samples.append((pipeline.capture.frames_captured, round(rss_mib(), 1)))

    started_rss, started = rss_mib(), time.monotonic()
    sampler = threading.Thread(target=sample, name="rss", daemon=True)
    with _Exceptions() as exceptions:
        sampler.start()
        pipeline.start()
        try:
            shown = run_headless(pipeline, on_frame=lambda frame: banners.add(frame.status.banner))
        finally:
            pipeline.close()
            done.set()
            sampler.join()
    seconds = time.monotonic() - started
    ended_rss = rss_mib()
    (recorder,) = pipeline.recordings
    summary = json.loads(recorder.paths["summary"].read_text())
    decoded, decode_error = count_video_frames(recorder.paths["annotated"])
    warm = [rss for count, rss in samples if count >= WARM_UP_FRAMES] or [started_rss]
    growth = max(warm) - warm[0]
    captured = pipeline.capture.frames_captured
    problems = log_problems(recorder.paths["log"])
    numbers = {
        "frames_requested": frames,
        "frames_captured": captured,
        "frames_recorded": recorder.frames_written,
        "frames_in_log": sum(1 for _ in recorder.paths["log"].open()),
        "frames_decoded": decoded,
        "decode_error": decode_error,
        "frames_shown": shown,
        "model_results": pipeline.inference.frames_processed,
        "model_errors": pipeline.inference.errors,
        "uncaught_exceptions": exceptions.seen,
        "recording_error": recorder.error,
        "stopped_by": summary["stopped_by"],
        "log_problems": problems[:20],
        "banners": sorted(b for b in banners if b and not b.startswith("recording to ")),
        "encoder_max_backlog": summary["encoder_max_backlog"],
        "seconds": round(seconds, 1),
        "capture_fps": round(captured / seconds, 1),
        "rss_mib_start": round(started_rss, 1),
        "rss_mib_after_warm_up": warm[0],
        "rss_mib_peak": max(rss for _, rss in samples) if samples else round(ended_rss, 1),
        "rss_mib_peak_closing": max(closing) if closing else None,
        "rss_mib_end": round(ended_rss, 1),
        "rss_growth_mib": round(growth, 1),
        "video": str(recorder.paths["annotated"]),
        "video_mib": round(recorder.paths["annotated"].stat().st_size / 2**20, 1),
        "rss_samples": samples,
    }
    numbers["checks"] = {
        "recorded == captured": recorder.frames_written == captured == numbers["frames_in_log"],
        "playable to its end": decoded == captured and decode_error is None,
        "zero exceptions": not (exceptions.seen or recorder.error or numbers["model_errors"]),
        f"RSS growth < {max_growth_mb:g} MiB": growth < max_growth_mb,
        "stopped by max frames": summary["stopped_by"] == "max frames",
        "log consistent": not problems,
    }
    return numbers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.soak",
        description="Recording soak: a looped real clip, headless, recording on, unpaced; checks "
        "memory, recorded == captured, exceptions and that the video plays to its end.",
    )
    parser.add_argument(
        "--frames",
        type=int,
        default=108_000,
        help="frames to capture (default 108000: one hour at 30 fps)",
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=DEMO_CLIP,
        help="the clip to loop (default: assets/demo_clip.mp4)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("soak-out"),
        help="folder for the recording and soak.json (default soak-out)",
    )
    parser.add_argument("--model", metavar="DIR", help="model bundle (default: the demo model)")
    parser.add_argument("--backend", default="auto", help="as polyp-live --backend")
    parser.add_argument(
        "--max-growth-mb",
        type=float,
        default=50.0,
        help="RSS growth allowed after the warm-up (default 50)",
    )
    args = parser.parse_args(argv)
    if args.frames < 1:
        print("soak: error: --frames must be at least 1", file=sys.stderr)
        return 2
    from .main import ModelError, build_segmenter

    try:
        open_source(str(args.source)).release()
        segmenter = build_segmenter(LiveConfig(model=args.model, backend=args.backend))
    except (SourceError, ModelError) as error:
        print(f"soak: error: {error}", file=sys.stderr)
        return 2
    numbers = run_soak(args.frames, args.out, segmenter, args.source, args.max_growth_mb)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(numbers, indent=1) + "\n")
    shown = {k: v for k, v in numbers.items() if k != "rss_samples"}
    print(json.dumps(shown, indent=1))
    return 0 if all(numbers["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
