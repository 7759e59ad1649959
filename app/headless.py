"""Headless display: the same pipeline without a window, with a progress bar on stderr."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

from tqdm import tqdm

from .pipeline import LivePipeline, ShownFrame


def run_headless(
    pipeline: LivePipeline,
    stop: threading.Event | None = None,
    on_frame: Callable[[ShownFrame], None] | None = None,
) -> int:
    """Runs until the source ends, `stop` is set or --max-frames; returns the frames shown.

    The caller closes the pipeline (recordings are finished there).
    """
    stop = stop or threading.Event()
    config, source = pipeline.config, pipeline.source
    total = config.max_frames
    if total is None and not source.is_live and not config.loop and source.frame_count:
        total = source.frame_count
    last_problem = ""
    with tqdm(total=total, unit="frame", file=sys.stderr, mininterval=0.5, leave=True) as bar:
        pipeline.on_message = lambda text: bar.write(text, file=sys.stderr)
        while not stop.is_set():
            shown = pipeline.poll(timeout=0.1)
            if shown is None:
                if pipeline.finished:
                    break
                last_problem = _report(bar, pipeline.problem(), last_problem)
                continue
            bar.update(1)
            if on_frame is not None:
                on_frame(shown)
            last_problem = _report(bar, pipeline.problem(), last_problem)
            status = shown.status
            if bar.n % 10 == 0:
                bar.set_postfix_str(
                    f"model {status.model_fps:.1f} fps, overlay {status.overlay.value}",
                    refresh=False,
                )
    return pipeline.frames_shown


def _report(bar: tqdm, problem: str, last: str) -> str:
    """Prints a problem once when it appears; returns the one now current."""
    if problem and problem != last:
        bar.write(problem, file=sys.stderr)
    return problem
