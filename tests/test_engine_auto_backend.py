"""--backend auto on a CPU: measured once per bundle and machine, cached, reused, announced."""

from __future__ import annotations

import json
import shutil

import cv2
import pytest
import torch

from engine import StreamSegmenter
from engine.auto_backend import CANDIDATES, choice_path, choose_cpu_backend, pick
from engine.bundle import ModelBundle, load_bundle
from engine.export.int8 import has_int8_dot_product

pytest_plugins = ("engine_helpers",)  # shared fixtures: a small bundle, its graphs


def test_pick_keeps_onnxruntime_unless_torch_is_clearly_faster() -> None:
    assert pick({"onnxruntime-cpu": 100.0, "torch-cpu": 97.0}) == "onnxruntime-cpu"
    assert pick({"onnxruntime-cpu": 100.0, "torch-cpu": 80.0}) == "torch-cpu"
    assert pick({"onnxruntime-cpu": 80.0, "torch-cpu": 100.0}) == "onnxruntime-cpu"
    assert pick({"torch-cpu": 50.0}) == "torch-cpu"  # onnxruntime could not be measured


def test_pick_prefers_int8_where_it_was_measured_and_is_not_clearly_slower() -> None:
    both = {"onnxruntime-cpu-int8": 37.0, "onnxruntime-cpu": 58.0, "torch-cpu": 100.0}
    assert pick(both) == "onnxruntime-cpu-int8"
    assert pick({**both, "onnxruntime-cpu-int8": 60.0}) == "onnxruntime-cpu-int8"
    assert pick({**both, "onnxruntime-cpu-int8": 70.0}) == "onnxruntime-cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto picks a CUDA back end there")
def test_auto_measures_once_caches_and_reuses_the_choice(
    small_bundle: ModelBundle, capsys: pytest.CaptureFixture
) -> None:
    choice_path().unlink(missing_ok=True)
    first = choose_cpu_backend(small_bundle)
    assert not first.cached
    # no calibration frames in this bundle: no int8 graphs, the other two are measured
    assert not small_bundle.calibration_frames
    assert set(first.frame_ms) == {"onnxruntime-cpu", "torch-cpu"}
    assert all(v > 0 for v in first.frame_ms.values())
    assert first.backend == pick(first.frame_ms)
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and line.startswith(f"backend auto: {first.backend} (")
    assert "measured now" in line

    stored = json.loads(choice_path().read_text())
    (key, entry), = stored.items()
    assert key.startswith(small_bundle.key + "/") and entry["backend"] == first.backend

    # The stored choice is what auto uses from then on: flip it, and the stream follows it
    # without measuring again.
    other = next(name for name in first.frame_ms if name != first.backend)
    entry["backend"] = other
    choice_path().write_text(json.dumps(stored))
    stream = StreamSegmenter(small_bundle)  # backend="auto"
    assert stream.backend_name == other
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"backend auto: {other} (") and "measured earlier" in line
    assert json.loads(choice_path().read_text()) == stored


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto picks a CUDA back end there")
def test_auto_measures_int8_too_when_the_bundle_has_calibration_frames(
    small_bundle: ModelBundle, real_clip, tmp_path
) -> None:
    calibrated = tmp_path / "calibrated"
    shutil.copytree(small_bundle.path, calibrated, ignore=shutil.ignore_patterns("onnx"))
    (calibrated / "calibration").mkdir()
    for index, (frame, _) in enumerate(real_clip[:4]):
        assert cv2.imwrite(str(calibrated / "calibration" / f"{index}.jpg"), frame)
    choice = choose_cpu_backend(load_bundle(calibrated), announce=False)
    # int8 is measured only on a CPU whose 8-bit dot product does not saturate
    expected = set(CANDIDATES) - (set() if has_int8_dot_product() else {"onnxruntime-cpu-int8"})
    assert set(choice.frame_ms) == expected and choice.backend == pick(choice.frame_ms)
    stream = StreamSegmenter(load_bundle(calibrated))  # backend="auto": the cached choice
    assert stream.backend_name == choice.backend


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto picks a CUDA back end there")
def test_auto_skips_int8_with_one_line_when_a_calibration_frame_is_damaged(
    small_bundle: ModelBundle, tmp_path, capsys: pytest.CaptureFixture
) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(small_bundle.path, damaged, ignore=shutil.ignore_patterns("onnx"))
    (damaged / "calibration").mkdir()
    (damaged / "calibration" / "0.jpg").write_bytes(b"not a picture")
    if not has_int8_dot_product():
        pytest.skip("int8 is not measured on a CPU without an 8-bit dot product")
    choice = choose_cpu_backend(load_bundle(damaged))
    assert set(choice.frame_ms) == {"onnxruntime-cpu", "torch-cpu"}
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("backend auto: onnxruntime-cpu-int8 skipped: ")
    assert "0.jpg: unreadable calibration frame" in lines[0] and len(lines) == 2
