"""The real `polyp-live` command in a subprocess: user mistakes exit 2 with one line; a run with
a real (randomly initialised, small) model bundle records a session headless."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from app_testkit import decode_frames, encode_clip, make_tiny_bundle

REPO = Path(__file__).resolve().parents[1]


def _command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("polyp-live")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "app.main"]
    return command + list(args)


def polyp_live(*args: str, env: dict[str, str] | None = None, timeout: float = 120.0):
    """Runs the installed console script (or `python -m app.main`) and returns the result."""
    return subprocess.run(
        _command(*args), cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env=env if env is not None else {**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )


def polyp_live_many(*runs: tuple[str, ...], timeout: float = 120.0):
    """Runs several commands at once (each loads torch: in parallel they take half the time)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    processes = [
        subprocess.Popen(_command(*args), cwd=REPO, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for args in runs
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=timeout)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def assert_one_line_error(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("polyp-live: error: ")
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.fixture(scope="module")
def clip_path(real_clip, tmp_path_factory) -> Path:
    frames = [frame for frame, _ in real_clip]
    return encode_clip(tmp_path_factory.mktemp("clip") / "clip.mkv", frames, fps=25, repeat=3)


@pytest.mark.parametrize("kind", ["missing", "random-bytes", "device-99"])
def test_bad_sources_exit_2_with_one_line(kind, tmp_path):
    if kind == "missing":
        source, expected = str(tmp_path / "missing.mp4"), "not found"
    elif kind == "random-bytes":
        source = str(tmp_path / "random.mp4")
        Path(source).write_bytes(np.random.default_rng(1).bytes(100_000))
        expected = "not a playable video"
    else:
        source, expected = "99", "cannot open capture device 99"
    assert_one_line_error(polyp_live("--source", source, "--headless"), expected)


def test_without_display_hints_at_headless(clip_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    assert_one_line_error(polyp_live("--source", str(clip_path), env=env), "--headless")


def test_bad_setting_exits_2(clip_path, tmp_path):
    assert_one_line_error(
        polyp_live("--source", str(clip_path), "--headless", "--overlay-opacity", "3"),
        "overlay_opacity",
    )
    settings = tmp_path / "live.yaml"
    settings.write_text("overlay_colour: red\n")
    assert_one_line_error(
        polyp_live("--source", str(clip_path), "--headless", "--config", str(settings)),
        "unknown settings overlay_colour",
    )
    assert_one_line_error(
        polyp_live("--source", str(clip_path), "--headless", "--mask-threshold", "1.5"),
        "mask_threshold 1.5 is outside (0, 1)",
    )
    settings.write_text("threshold: 0.6\n")  # a settings file from before the rename
    assert_one_line_error(
        polyp_live("--source", str(clip_path), "--headless", "--config", str(settings)),
        "'threshold' is now 'mask_threshold'",
    )


def test_print_config_round_trips(tmp_path):
    result = polyp_live("--print-config", "--overlay-opacity", "0.5")
    assert result.returncode == 0, result.stderr
    settings = tmp_path / "live.yaml"
    settings.write_text(result.stdout)
    from app.config import build_parser, config_from_args

    config = config_from_args(build_parser().parse_args(["--config", str(settings)]))
    assert config.overlay_opacity == 0.5 and config.stale_after_s == 0.3


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory) -> Path:
    """A real model bundle: small PNS+ (ResNet-18) and SAMIHS vit_t with random weights."""
    return make_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")


def test_missing_demo_model_and_wrong_checkpoints(clip_path, tiny_bundle, tmp_path):
    from app.config import LiveConfig
    from app.main import ModelError, build_segmenter
    from engine.stream import DEMO_MODEL_DIR

    with pytest.raises(ModelError, match="not found"):
        build_segmenter(LiveConfig(source="x", model=str(tmp_path / "none")))
    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle, broken)
    (broken / "samihs.safetensors").write_bytes(np.random.default_rng(2).bytes(4096))
    runs = [
        ("--source", str(clip_path), "--headless", "--model", str(broken)),
        ("--source", str(clip_path), "--headless", "--model", str(tiny_bundle),
         "--backend", "cuda-magic"),
    ]
    if not DEMO_MODEL_DIR.is_dir():
        runs.append(("--source", str(clip_path), "--headless"))
    results = polyp_live_many(*runs)
    assert_one_line_error(results[0], "samihs.safetensors", "damaged")
    assert_one_line_error(results[1], "unknown back end 'cuda-magic'")
    if len(results) > 2:
        assert_one_line_error(results[2], "demo model", "--model")


def test_backend_names_of_the_cli_reach_the_engine():
    from app.main import BACKEND_ALIASES
    from engine.runners import resolve_backend

    for name in ("auto", "tensorrt", "torch", "onnx"):
        assert resolve_backend(BACKEND_ALIASES.get(name, name))


@pytest.mark.slow
def test_headless_run_with_a_real_bundle_records_the_session(clip_path, tiny_bundle, tmp_path):
    record = tmp_path / "rec"
    result = polyp_live(
        "--source", str(clip_path), "--headless", "--model", str(tiny_bundle),
        "--backend", "torch", "--record", str(record), "--max-frames", "20", "--every-frame",
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    videos = sorted(record.glob("session_*_annotated.mkv"))
    assert len(videos) == 1
    stem = videos[0].name.removesuffix("_annotated.mkv")
    log = (record / f"{stem}_frames.jsonl").read_text().splitlines()
    summary = json.loads((record / f"{stem}_summary.json").read_text())
    assert len(log) == 20 and summary["frames"] == 20
    assert summary["backend"] == "torch-cpu"
    frames = decode_frames(videos[0])
    assert len(frames) == 20 and frames[0].shape == (288, 384, 3)
    records = [json.loads(line) for line in log]
    assert [r["frame"] for r in records] == list(range(20))
    assert any(r["result_frame"] is not None for r in records)  # the model answered
    assert all(r["result_frame"] == r["frame"] for r in records)  # --every-frame: its own result
