"""A folder of frames as the viewer's source: the recorded masks take the frames' names, so
`polyp-eval --pred` scores a recording of a SUN-SEG case as it scores polyp-eval's own maps."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from training.cli import eval_main

REPO = Path(__file__).resolve().parents[1]
FIXTURE_DATA = REPO / "tests" / "fixtures" / "cvc-clinicdb"
POLYP_LIVE = str(Path(sys.executable).parent / "polyp-live")


def run_viewer(source: Path, record: Path, backend: str = "torch") -> subprocess.CompletedProcess:
    command = [
        POLYP_LIVE, "--source", str(source), "--model", str(REPO / "assets" / "model"),
        "--backend", backend, "--headless", "--every-frame", "--record", str(record),
        "--record-masks",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)


def test_a_recorded_case_scores_as_polyp_eval_scores_it(tmp_path):
    finished = run_viewer(FIXTURE_DATA / "Frame" / "seq26", tmp_path / "rec")
    assert finished.returncode == 0, finished.stderr[-2000:]
    (recorded,) = (tmp_path / "rec").glob("session_*_masks")
    frames = sorted((FIXTURE_DATA / "Frame" / "seq26").iterdir())
    names = sorted(path.name for path in (recorded / "seq26").iterdir())
    assert names == [path.stem + ".png" for path in frames]  # 529.png ...: the GT's names
    assert eval_main(["--pred", str(recorded), "--gt", str(FIXTURE_DATA), "--quiet",
                      "--json", str(tmp_path / "live.json")]) == 0
    assert eval_main(["--model", str(REPO / "assets" / "model"), "--data", str(FIXTURE_DATA),
                      "--device", "cpu", "--quiet", "--json", str(tmp_path / "eval.json")]) == 0
    live = json.loads((tmp_path / "live.json").read_text())
    offline = json.loads((tmp_path / "eval.json").read_text())
    assert live["metrics"] == offline["metrics"]
    assert live["metrics"]["maxDice"] > 0.5  # not vacuous: the polyp is found


def test_an_unreadable_frame_ends_the_session_with_one_line_and_keeps_the_masks(tmp_path):
    folder = tmp_path / "case"
    shutil.copytree(FIXTURE_DATA / "Frame" / "seq26", folder)
    damaged = sorted(folder.iterdir())[5]
    damaged.write_bytes(b"\x00" * 100)
    finished = run_viewer(folder, tmp_path / "rec")
    assert finished.returncode == 2
    errors = [line for line in finished.stderr.splitlines() if line.startswith("polyp-live: error")]
    assert len(errors) == 1 and damaged.name in errors[0], finished.stderr[-2000:]
    assert "Traceback" not in finished.stderr
    (recorded,) = (tmp_path / "rec").glob("session_*_masks")
    kept = sorted(path.name for path in (recorded / "case").iterdir())
    assert kept == sorted(path.stem + ".png" for path in folder.iterdir())[:5]
    masks = [cv2.imread(str(recorded / "case" / name), cv2.IMREAD_GRAYSCALE) for name in kept]
    assert all(mask is not None and mask.shape == (288, 384) for mask in masks)
    assert any(np.asarray(mask).max() > 127 for mask in masks)
