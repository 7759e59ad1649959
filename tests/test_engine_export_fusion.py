"""The PNS+ frame encoder graph is exported so that ONNX Runtime can fuse it, and still computes
exactly what the PyTorch module does (EfficientNet-Lite trunk: TensorFlow-style padding, and RFB
convolutions with single-slope PReLUs)."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch
from torch import nn

from engine.bundle import ModelBundle
from engine.export.fusable import single_slope_prelus, with_fusable_activations
from engine.export.graphs import export_graph, graph_modules, graph_specs
from models import build_pns_plus
from models.pns_plus import FrameEncoder, frame_to_input

pytest_plugins = ("engine_helpers",)  # shared fixtures: a small bundle, real frames


def lite_pns() -> nn.Module:
    """PNS+ on EfficientNet-Lite0 (random weights) with a different PReLU slope everywhere."""
    torch.manual_seed(0)
    pns = build_pns_plus(backbone="efficientnet_lite0", input_size=(256, 320))
    for module in pns.modules():
        if isinstance(module, nn.PReLU):
            nn.init.uniform_(module.weight, -0.5, 1.5)
    return pns


def optimized_ops(model: Path, tmp_path: Path) -> collections.Counter:
    """Node types of the graph ONNX Runtime runs after its CPU optimisations."""
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    graph = onnx.load(str(tmp_path / "optimized.onnx")).graph
    return collections.Counter(node.op_type for node in graph.node)


def test_frame_encoder_graph_fuses_and_equals_pytorch(
    small_bundle: ModelBundle, real_clip, tmp_path: Path
) -> None:
    pns = lite_pns()
    single = len(single_slope_prelus(pns))
    assert single > 0
    path = tmp_path / "pns_encoder.onnx"
    spec = graph_specs(pns, small_bundle.samihs)["pns_encoder"]
    export_graph(graph_modules(pns, small_bundle.samihs)["pns_encoder"], spec, path)

    frame = frame_to_input(real_clip[0][0], (256, 320))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    low, high = session.run(None, {"frame": frame.numpy()})
    with torch.no_grad():
        expected = pns.encode_frame(frame)
    np.testing.assert_allclose(low, expected.low.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(high, expected.high.numpy(), atol=1e-4, rtol=0)

    assert len(single_slope_prelus(pns)) == single  # the model itself keeps its PReLUs
    ops = optimized_ops(path, tmp_path)
    # Fixed shapes: the padding arithmetic is folded away.
    assert ops["Shape"] == 0 and ops["Pad"] == 0, ops
    # Single-slope PReLUs ride on the convolutions; per-channel ones stay PRelu nodes.
    unfused = tmp_path / "as_trained.onnx"
    export_graph(FrameEncoder(pns), spec, unfused)
    assert 0 < optimized_ops(unfused, tmp_path)["PRelu"] - ops["PRelu"] <= single


def test_only_single_slope_prelus_are_rewritten() -> None:
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 4, 1), nn.PReLU(), nn.Conv2d(4, 4, 1), nn.PReLU(4))
    nn.init.uniform_(module[1].weight, -1.0, 2.0)
    nn.init.uniform_(module[3].weight, -1.0, 2.0)
    rewritten = with_fusable_activations(module)
    assert isinstance(rewritten[1], nn.LeakyReLU) and isinstance(rewritten[3], nn.PReLU)
    assert isinstance(module[1], nn.PReLU)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(rewritten(x), module(x))
    plain = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU())
    assert with_fusable_activations(plain) is plain
