"""Takes docs/screenshot.png: the real polyp-live window on an X server (run under Xvfb).

    xvfb-run -s "-screen 0 1280x900x24" .venv/bin/python docs/make_screenshot.py --model DIR

The clip is the bundled demo clip (CVC-ClinicDB seq25-seq29, assets/). Needs the Debian
packages xvfb libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 (Qt's xcb plugin).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PyQt6.QtWidgets import QApplication

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.config import LiveConfig  # noqa: E402
from app.main import build_segmenter  # noqa: E402
from app.pipeline import LivePipeline  # noqa: E402
from app.sources import open_source  # noqa: E402

DEMO_CLIP = REPO / "assets" / "demo_clip.mp4"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model bundle (default: the demo model in assets/)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--seconds", type=float, default=4.0, help="wait before the shot")
    parser.add_argument("--pause", type=float, metavar="SECONDS",
                        help="press Space after SECONDS and shoot the paused frame with its own "
                        "mask (the picture still, the model's result for it)")
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshot.png"))
    args = parser.parse_args()
    app = QApplication(["polyp-live"])
    from app.window import LiveWindow

    config = LiveConfig(source=str(DEMO_CLIP), model=args.model, backend=args.backend, loop=True)
    pipeline = LivePipeline(config, open_source(config.source), build_segmenter(config))
    window = LiveWindow(pipeline)
    window.start()
    start = time.monotonic()
    paused = False
    while time.monotonic() < start + args.seconds:
        if args.pause is not None and not paused and time.monotonic() >= start + args.pause:
            paused = pipeline.toggle_pause()
        app.processEvents()
        time.sleep(0.005)
    shot = window.screen().grabWindow(int(window.winId()))  # from the X server
    shot.save(args.out)
    print(
        f"saved {args.out} ({shot.width()}x{shot.height()}), backend "
        f"{pipeline.backend}, status: {window.status.text()}, source frame "
        f"{window.last_shown.record.frame}, its result from frame "
        f"{window.last_shown.record.result_frame}"
    )
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
