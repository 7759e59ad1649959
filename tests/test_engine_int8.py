"""The int8 CPU back end (engine/export/int8.py): the bundled model's encoders quantised on its
calibration/ frames give nearly the fp32 masks on real held-out frames; a bundle without
calibration frames, or with a damaged one, is one clear line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from test_app_cli import assert_one_line_error, polyp_live

from engine.bundle import load_bundle
from engine.clips import read_clip
from engine.export import main as export_main
from engine.export.int8 import FLOAT_LAYERS, QUANTIZED_GRAPHS, has_int8_dot_product
from engine.export.manifest import GraphManifest, GraphsError
from engine.runners import create_runner
from engine.stream import StreamSegmenter

pytest_plugins = ("engine_helpers",)  # shared fixtures: engine_cache

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "assets" / "model"


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return 1.0 if union == 0 else float((a & b).sum() / union)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, engine_cache) -> Path:
    """polyp-export --model (bundled model) --out DIR --precision fp32 int8."""
    out = tmp_path_factory.mktemp("int8") / "bundle"
    argv = ["--model", str(DEMO), "--out", str(out), "--precision", "fp32", "int8"]
    assert export_main(argv) == 0
    return out


@pytest.mark.slow
def test_export_quantises_the_two_encoders_and_keeps_the_bundle_whole(exported):
    manifest = GraphManifest.read(exported / "onnx")
    for name in manifest.data["graphs"]:
        int8 = manifest.path(name, "int8")
        operators = {node.op_type for node in onnx.load(str(int8)).graph.node}
        if name in QUANTIZED_GRAPHS:
            assert int8.name == f"{name}.int8.onnx" and "QuantizeLinear" in operators
            assert manifest.data["graphs"][name]["files"]["int8"]["calibration_frames"] == 32
        else:  # attention and logits stay fp32
            assert int8 == manifest.path(name, "fp32") and "QuantizeLinear" not in operators
    # the re-written bundle keeps what the app runs: sizes, prompts, smoothing, calibration
    assert json.loads((exported / "bundle.json").read_text()) == json.loads(
        (DEMO / "bundle.json").read_text()
    )
    assert sorted(p.name for p in (exported / "calibration").iterdir()) == sorted(
        p.name for p in (DEMO / "calibration").iterdir()
    )


@pytest.mark.slow
def test_the_sam_encoders_first_layers_stay_fp32_and_the_rest_is_int8(exported):
    graph = onnx.load(str(GraphManifest.read(exported / "onnx").path("sam_encoder", "int8"))).graph
    made_by = {output: node.op_type for node in graph.node for output in node.output}
    weights = {node.name: made_by.get(node.input[1], "float initializer")
               for node in graph.node if node.op_type == "Conv"}
    kept = {name for name in weights if name.startswith(FLOAT_LAYERS["sam_encoder"])}
    assert len(kept) == 3 and len(weights) > 60  # stem, block 0's depthwise and pointwise
    for name, source in weights.items():
        assert source == ("float initializer" if name in kept else "DequantizeLinear"), name


@pytest.mark.slow
def test_int8_masks_match_fp32_on_the_held_out_demo_clip(exported):
    """Every frame of the demo clip (CVC-ClinicDB seq25-29, never a calibration frame) through
    both CPU back ends, scored against its ground truth."""
    bundle = load_bundle(exported)
    streams = {
        backend: StreamSegmenter(bundle, backend=backend)
        for backend in ("onnxruntime-cpu", "onnxruntime-cpu-int8")
    }
    assert streams["onnxruntime-cpu-int8"].runner.name == "onnxruntime-cpu-int8"
    truths = sorted((REPO / "assets" / "demo_clip_gt").glob("*.png"))
    ious, dice = [], {name: [] for name in streams}
    for frame, truth_path in zip(read_clip(REPO / "assets" / "demo_clip.mp4"), truths, strict=True):
        truth = cv2.imread(str(truth_path), cv2.IMREAD_GRAYSCALE) > 127
        masks = {name: stream.process(frame).mask for name, stream in streams.items()}
        ious.append(_iou(masks["onnxruntime-cpu"], masks["onnxruntime-cpu-int8"]))
        for name, mask in masks.items():
            dice[name].append(2 * (mask & truth).sum() / max(1, mask.sum() + truth.sum()))
    print(f"int8 vs fp32 mask IoU {np.mean(ious):.3f}; Dice "
          + ", ".join(f"{name} {np.mean(values):.3f}" for name, values in dice.items()))
    assert len(ious) == 109 and np.mean(ious) > 0.85  # measured 0.905 (AMD EPYC)
    # the polyps are still found: int8 costs at most a little Dice
    assert np.mean(dice["onnxruntime-cpu-int8"]) > np.mean(dice["onnxruntime-cpu"]) - 0.02


def test_a_bundle_without_calibration_frames_is_one_line(tmp_path, engine_cache):
    bare = shutil.copytree(DEMO, tmp_path / "bare", ignore=shutil.ignore_patterns("calibration"))
    with pytest.raises(GraphsError, match="no calibration/ folder.*--backend onnxruntime-cpu"):
        create_runner(load_bundle(bare), "onnxruntime-cpu-int8")
    damaged = shutil.copytree(DEMO, tmp_path / "damaged")
    frame = sorted((damaged / "calibration").iterdir())[0]
    frame.write_bytes(b"not a picture")
    with pytest.raises(GraphsError, match=f"{frame.name}: unreadable calibration frame"):
        create_runner(load_bundle(damaged), "onnxruntime-cpu-int8")
    result = polyp_live("--model", str(bare), "--backend", "onnxruntime-cpu-int8",
                        "--source", str(REPO / "assets" / "demo_clip.mp4"), "--headless",
                        "--max-frames", "2")
    assert_one_line_error(result, "calibration")


def test_the_int8_dot_product_is_read_from_the_cpu_flags():
    xeon = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"
    old_x86 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\nbugs\t\t: spectre_v1\n"
    arm = "processor\t: 0\nFeatures\t: fp asimd crc32 atomics asimddp\n"
    assert has_int8_dot_product(xeon) and has_int8_dot_product(arm)
    assert not has_int8_dot_product(old_x86) and not has_int8_dot_product("")
    assert not has_int8_dot_product("model name\t: avx512_vnni lookalike\n")  # flags lines only
