"""Takes docs/screenshot.png: the real polyp-live window on an X server (run under Xvfb).

    xvfb-run -s "-screen 0 1280x900x24" .venv/bin/python docs/make_screenshot.py --model DIR

The clip is CVC-ClinicDB seq25-seq29 (../shared/data), encoded at 25 fps. Needs the Debian
packages xvfb libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 (Qt's xcb plugin).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
from PyQt6.QtWidgets import QApplication

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.config import LiveConfig  # noqa: E402
from app.main import build_segmenter  # noqa: E402
from app.pipeline import LivePipeline  # noqa: E402
from app.sources import open_source  # noqa: E402
from app.video_writer import VideoFileWriter  # noqa: E402

FRAMES = REPO.parent / "shared" / "data" / "cvc-clinicdb" / "Frame"


def encode_demo_clip(path: Path) -> Path:
    frames = [p for case in range(25, 30) for p in sorted((FRAMES / f"seq{case}").glob("*.jpg"),
                                                          key=lambda p: int(p.stem))]
    writer = VideoFileWriter(path, 384, 288, 25.0, crf=18)
    for i, frame_path in enumerate(frames):
        writer.write(cv2.imread(str(frame_path)), round(i * 40))
    writer.close()
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model bundle (default: the demo model in assets/)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--seconds", type=float, default=4.0, help="wait before the shot")
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshot.png"))
    args = parser.parse_args()
    app = QApplication(["polyp-live"])
    from app.window import LiveWindow

    with tempfile.TemporaryDirectory() as folder:
        clip = encode_demo_clip(Path(folder) / "seq25-29.mkv")
        config = LiveConfig(source=str(clip), model=args.model, backend=args.backend, loop=True)
        pipeline = LivePipeline(config, open_source(config.source), build_segmenter(config))
        window = LiveWindow(pipeline)
        window.resize(900, 740)
        window.start()
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.005)
        shot = window.screen().grabWindow(int(window.winId()))  # from the X server
        shot.save(args.out)
        print(f"saved {args.out} ({shot.width()}x{shot.height()}), backend "
              f"{pipeline.backend}, status: {window.status.text()}")
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
