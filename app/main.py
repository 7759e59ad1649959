"""`polyp-live`: live polyp segmentation viewer (window or headless) with recording.

User mistakes (bad source, bad model, bad setting, no display) end with one line on stderr and
exit status 2; SIGINT and SIGTERM close recordings cleanly (exit 130 and 143).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

from .config import LiveConfig, SettingsError, build_parser, config_from_args, to_yaml
from .sources import CaptureOptions, SourceError, open_source

if TYPE_CHECKING:
    from engine.stream import Segmenter

USAGE_ERROR = 2
BACKEND_ALIASES = {"onnx": "onnxruntime"}  # the CLI's short name -> the engine's
NON_DISPLAY_PLATFORMS = {"offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay"}


class ModelError(ValueError):
    """The model could not be loaded; one line naming the problem."""


def display_problem() -> str | None:
    """Why a window cannot open here (Linux without DISPLAY/WAYLAND_DISPLAY), or None."""
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    if platform in NON_DISPLAY_PLATFORMS:
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "no display found (DISPLAY and WAYLAND_DISPLAY are unset); add --headless to run " \
        "without a window"


def build_segmenter(config: LiveConfig) -> Segmenter:
    """The engine's stream segmenter for --model/--backend; ModelError with one line if not."""
    from engine.stream import build_stream_segmenter

    backend = BACKEND_ALIASES.get(config.backend, config.backend)
    try:
        return build_stream_segmenter(config.model, backend=backend)
    except (ValueError, OSError, RuntimeError, ImportError) as error:
        lines = str(error).strip().splitlines() or [type(error).__name__]
        raise ModelError(lines[0]) from None


def _install_stop_signals(stop: threading.Event) -> list[int]:
    """SIGINT/SIGTERM set `stop` (the stream then closes its files); returns the signals seen."""
    seen: list[int] = []

    def handler(signum: int, frame: object) -> None:
        seen.append(signum)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return seen


def _error(message: str) -> int:
    print(f"polyp-live: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        if args.print_config:
            print(to_yaml(config), end="")
            return 0
        config.validate()
        if not config.headless and (problem := display_problem()):
            return _error(problem)
        options = CaptureOptions(config.width, config.height, config.fps, config.fourcc)
        source = open_source(config.source, options)
        segmenter = build_segmenter(config)
    except (SettingsError, SourceError, ModelError) as error:
        return _error(str(error))
    from .pipeline import LivePipeline

    stop = threading.Event()
    seen = _install_stop_signals(stop)
    pipeline = LivePipeline(config, source, segmenter, on_message=_print_message)
    try:
        pipeline.start()  # the one start of the stream graph, for both front ends
        if config.headless:
            from .headless import run_headless

            run_headless(pipeline, stop)
        else:
            from .window import run_window

            run_window(pipeline, stop)
    finally:
        pipeline.close("signal" if seen else "user")
    for recorder in pipeline.recordings:  # the real names, e.g. for `make demo`
        for path in recorder.paths.values():
            if path.exists():
                print(f"wrote {path}")
    if seen:
        return 128 + seen[0]
    if pipeline.capture.end_reason == "source error":  # e.g. an unreadable frame in a folder
        return _error(pipeline.capture.message)
    return 0


def _print_message(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
