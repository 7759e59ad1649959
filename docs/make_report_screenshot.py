"""Takes docs/report.png: a session report of the demo clip, rendered by headless Chromium.

    .venv/bin/python docs/make_report_screenshot.py

Records the bundled demo clip headless with the bundled model (the report is written when the
recording closes), then screenshots the report. Needs the Debian package chromium.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
]  # fmt: skip


def main() -> int:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("needs Chromium: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "recording"
        subprocess.run(
            [sys.executable, "-m", "app.main", "--source", "assets/demo_clip.mp4",
             "--headless", "--record", str(folder)],
            cwd=REPO, check=True,
        )
        (report,) = folder.glob("session_*_report.html")
        out = REPO / "docs" / "report.png"
        subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={Path(work) / 'profile'}",
             f"--screenshot={out}", "--window-size=1100,1280", report.as_uri()],
            check=True, capture_output=True,
        )
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
