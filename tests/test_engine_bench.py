"""polyp-bench: tables and JSON on synthetic frames and on real clips (folder and video file)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from engine.bench import main as bench_main
from engine.bench import percentiles
from engine.bundle import ModelBundle
from engine.clips import read_clip, synthetic_frames

pytest_plugins = ("engine_helpers",)  # shared fixtures: a small bundle, its graphs


def write_video(path: Path, frames: list[np.ndarray]) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))
        container.mux(stream.encode())
    return path


def test_clips_read_folders_in_frame_order_and_videos(real_clip, tmp_path: Path) -> None:
    case = tmp_path / "case1" / "Frame"
    case.mkdir(parents=True)
    import cv2

    for number, (frame, _) in zip((9, 10, 100), real_clip, strict=False):
        cv2.imwrite(str(case / f"image{number}.png"), frame)
    frames = read_clip(tmp_path / "case1")  # a SUN-SEG-style case folder (Frame/ inside)
    assert len(frames) == 3
    for got, (expected, _) in zip(frames, real_clip, strict=False):
        np.testing.assert_array_equal(got, expected)  # 9 < 10 < 100, not "10" < "100" < "9"
    video = write_video(tmp_path / "clip.mp4", [f for f, _ in real_clip])
    decoded = read_clip(video, limit=5)
    assert len(decoded) == 5 and decoded[0].shape == real_clip[0][0].shape
    assert np.abs(decoded[0].astype(int) - real_clip[0][0]).mean() < 8  # lossy, same picture
    with pytest.raises(ValueError, match="not found"):
        read_clip(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no readable frames"):
        read_clip(tmp_path / "empty")


def test_synthetic_frames_are_deterministic_and_sized() -> None:
    first, again = synthetic_frames((108, 192), 3), synthetic_frames((108, 192), 3)
    assert all(f.shape == (108, 192, 3) and f.dtype == np.uint8 for f in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], first[1])


def test_percentiles_are_ordered() -> None:
    stats = percentiles(list(np.arange(1.0, 101.0)))
    assert stats["p50"] == pytest.approx(50.5) and stats["p99"] == pytest.approx(99.01)
    assert stats["p50"] <= stats["p95"] <= stats["p99"]


def test_bench_writes_a_table_and_json_per_backend_and_source(
    real_clip, small_bundle: ModelBundle, small_graphs, tmp_path: Path, capsys
) -> None:
    clip = write_video(tmp_path / "clip.mp4", [f for f, _ in real_clip])
    out = tmp_path / "bench.json"
    code = bench_main(["--model", str(small_bundle.path), "--backends",
                       "torch-cpu,onnxruntime-cpu,torch-cuda", "--frames", "1", "--warmup", "0",
                       "--frame-size", "144x192", "--clip", str(clip), "--naive-pns", "--per-graph",
                       "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    runs = {(r["backend"], r["source"]): r for r in report["runs"]}
    assert set(runs) >= {("torch-cpu", "synthetic"), ("torch-cpu", "clip"),
                         ("onnxruntime-cpu", "synthetic"), ("onnxruntime-cpu", "clip")}
    assert runs[("torch-cpu", "synthetic")]["frame_size"] == "192x144"
    assert runs[("torch-cpu", "clip")]["frame_size"] == "384x288"
    for run in report["runs"]:
        assert run["frames"] == 1
        for stage in ("preprocess", "pns", "prompts", "sam", "postprocess", "total"):
            stats = run["stages_ms"][stage]
            assert 0 <= stats["p50"] <= stats["p95"] <= stats["p99"]
        assert run["throughput_fps"] > 0
        assert f"| {run['backend']} | {run['source']} |" in printed
    if "gpu" not in report["machine"]:
        assert "torch-cuda" in report["skipped"]
    modes = {(p["backend"], p["mode"]) for p in report["pns"]}
    assert ("torch-cpu", "naive 6-frame forward") in modes
    assert ("onnxruntime-cpu", "streaming") in modes
    assert report["machine"]["cores"] >= 1 and report["machine"]["cpu"]
    graphs = {g["backend"]: g["graphs_ms"] for g in report["graphs"]}
    assert set(graphs) == {"torch-cpu", "onnxruntime-cpu"}
    assert all(stats["p50"] > 0 for per in graphs.values() for stats in per.values())
    assert "| graph (p50 ms) |" in printed


def test_bench_preset_sets_a_threshold_at_which_sam_runs(engine_cache, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert bench_main(["--preset", "small", "--backends", "torch-cpu", "--frames", "1",
                       "--warmup", "0", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert "random weights" in report["model"]
    assert report["runs"][0]["sam_fraction"] == 1.0 and report["runs"][0]["mean_components"] >= 1


def test_bench_reports_bad_input_in_one_line(tmp_path: Path, capsys) -> None:
    assert bench_main(["--model", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--model" in err
