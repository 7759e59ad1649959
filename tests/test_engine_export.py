"""ONNX export: every graph matches PyTorch on real frames; fp16 islands; manifest; polyp-export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from engine.bundle import ModelBundle, load_bundle
from engine.export import main as export_main
from engine.export.fp16 import ISLAND_OPS
from engine.export.graphs import export_graph, graph_modules, graph_specs
from engine.export.manifest import GraphManifest
from engine.sam_prompts import SamPrompt, to_point_form
from models import build_samihs
from models.pns_plus import FrameFeatures, frame_to_input
from models.prompts import PromptConfig, prompts_from_probability
from models.samihs import preprocess_frame
from models.samihs.checkpoint import file_sha256

pytest_plugins = ("engine_helpers",)  # shared fixtures: a small bundle, its graphs

TOLERANCE = 1e-3  # the acceptance bound for fp32 graphs (max abs difference)


def run(manifest: GraphManifest, graph: str, *inputs: torch.Tensor, precision: str = "fp32"):
    session = onnxruntime.InferenceSession(
        str(manifest.path(graph, precision)), providers=["CPUExecutionProvider"]
    )
    names = [i.name for i in session.get_inputs()]
    return session.run(None, {n: x.numpy() for n, x in zip(names, inputs, strict=True)})


@pytest.fixture(scope="module")
def real_inputs(real_clip, small_bundle: ModelBundle) -> dict:
    """Real-frame inputs for every graph, and the PyTorch outputs they must reproduce."""
    pns, samihs = small_bundle.pns, small_bundle.samihs
    frames = torch.cat([frame_to_input(f) for f, _ in real_clip[:6]])
    image, _ = preprocess_frame(real_clip[5][0], samihs.config.image_size, "BGR")
    with torch.no_grad():
        features = pns.encode_frame(frames)
        recent = FrameFeatures(features.low[1:].unsqueeze(0), features.high[1:].unsqueeze(0))
        probability = pns.temporal_head(features.high[:1], recent)
        embeddings = samihs.image_encoder(image)
    return {
        "frame": frames[5:6],
        "features": (features.low[5:6], features.high[5:6]),
        "anchor_high": features.high[:1],
        "recent": recent,
        "probability": probability,
        "image": image,
        "embeddings": embeddings,
        "frame_size": real_clip[5][0].shape[:2],
    }


def test_pns_graphs_match_pytorch_on_real_frames(small_graphs: GraphManifest, real_inputs) -> None:
    low, high = run(small_graphs, "pns_encoder", real_inputs["frame"])
    np.testing.assert_allclose(low, real_inputs["features"][0].numpy(), atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(high, real_inputs["features"][1].numpy(), atol=TOLERANCE, rtol=0)
    recent = real_inputs["recent"]
    (probability,) = run(small_graphs, "pns_temporal", real_inputs["anchor_high"], recent.low,
                         recent.high)
    expected = real_inputs["probability"].numpy()
    np.testing.assert_allclose(probability, expected, atol=TOLERANCE, rtol=0)
    assert 0.05 < expected.std() and ((expected > 0.05) & (expected < 0.95)).mean() > 0.5


def test_sam_encoder_matches_pytorch_on_a_real_frame(small_graphs: GraphManifest,
                                                     real_inputs) -> None:
    (embeddings,) = run(small_graphs, "sam_encoder", real_inputs["image"])
    expected = real_inputs["embeddings"].numpy()
    assert embeddings.shape == expected.shape == (1, 256, 16, 16)
    np.testing.assert_allclose(embeddings, expected, atol=TOLERANCE, rtol=0)


POLICIES = {
    "box": PromptConfig(use_point=False, use_mask=False),
    "point": PromptConfig(use_box=False, use_mask=False),
    "mask": PromptConfig(use_box=False, use_point=False),
    "box+point": PromptConfig(use_mask=False),
    "point+mask": PromptConfig(use_box=False),
    "all": PromptConfig(),
}


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_prompt_decoder_matches_samihs_decode_for_every_prompt_kind(
    small_bundle: ModelBundle, small_graphs: GraphManifest, real_inputs, policy: str
) -> None:
    samihs = small_bundle.samihs
    prompts = prompts_from_probability(real_inputs["probability"], real_inputs["frame_size"],
                                       samihs.config.image_size, POLICIES[policy])
    assert len(prompts) >= 2  # several real components: the batched (N > 1) path is exercised
    prompt = SamPrompt.from_prompts(prompts, "cpu")
    embeddings = real_inputs["embeddings"]
    with torch.no_grad():
        points = None if prompt.points is None else (prompt.points, prompt.labels)
        mask = None if prompt.mask is None else prompt.mask.expand(prompt.count, 1, -1, -1)
        expected = samihs.decode(embeddings.expand(prompt.count, -1, -1, -1), prompt.boxes,
                                 points, mask)
    inputs = to_point_form(prompt, samihs.mask_input_size)
    (logits,) = run(small_graphs, "sam_decoder", embeddings, *inputs)
    assert logits.shape == (len(prompts), 1, 256, 256)
    np.testing.assert_allclose(logits, expected.numpy(), atol=TOLERANCE, rtol=0)
    if policy != "mask":  # a mask-only prompt is the same for every component
        # The components got different masks, so the sparse prompts reached the decoder.
        assert np.abs(logits[0] - logits[1]).max() > 1e-2


def test_fp16_graphs_keep_normalisation_and_softmax_in_fp32(small_graphs: GraphManifest) -> None:
    fp16, fp32 = onnx.TensorProto.FLOAT16, onnx.TensorProto.FLOAT
    for graph in ("sam_encoder", "pns_temporal"):
        model = onnx.shape_inference.infer_shapes(onnx.load(str(small_graphs.path(graph, "fp16"))))
        types = {v.name: v.type.tensor_type.elem_type
                 for v in (*model.graph.value_info, *model.graph.input, *model.graph.output)}
        types.update({t.name: t.data_type for t in model.graph.initializer})
        islands = [n for n in model.graph.node if n.op_type in ISLAND_OPS]
        assert islands, graph
        for node in islands:
            assert types[node.input[0]] == fp32, (graph, node.name)
        matmuls = [n for n in model.graph.node if n.op_type in ("MatMul", "Conv")]
        assert sum(types.get(n.input[0]) == fp16 for n in matmuls) > 0.9 * len(matmuls), graph
        weights = [t for t in model.graph.initializer if t.data_type in (fp16, fp32)]
        assert sum(t.data_type == fp16 for t in weights) > 0.5 * len(weights)
        assert {i.type.tensor_type.elem_type for i in model.graph.input} == {fp32}


def test_fp16_graphs_stay_close_to_fp32(small_graphs: GraphManifest, real_inputs) -> None:
    (embeddings,) = run(small_graphs, "sam_encoder", real_inputs["image"], precision="fp16")
    expected = real_inputs["embeddings"].numpy()
    scale = np.abs(expected).max()
    assert np.abs(embeddings - expected).max() < 0.02 * scale
    recent = real_inputs["recent"]
    (probability,) = run(small_graphs, "pns_temporal", real_inputs["anchor_high"], recent.low,
                         recent.high, precision="fp16")
    assert np.abs(probability - real_inputs["probability"].numpy()).max() < 0.01


def test_manifest_records_shapes_precisions_and_source_hashes(
    small_bundle: ModelBundle, small_graphs: GraphManifest
) -> None:
    data = small_graphs.data
    assert data["opset"] >= 17
    assert set(data["graphs"]) == {"pns_encoder", "pns_temporal", "sam_encoder", "sam_decoder"}
    for name, graph in data["graphs"].items():
        assert set(graph["files"]) == {"fp32", "fp16"}, name
        for precision in ("fp32", "fp16"):
            path = small_graphs.path(name, precision)
            assert graph["files"][precision]["sha256"] == file_sha256(path)
    assert small_graphs.shapes("sam_decoder")["point_coords"] == ["N", "P", 2]
    assert small_graphs.shapes("pns_encoder")["frame"] == [1, 3, 256, 448]
    for source in ("samihs", "pns_plus"):
        file = small_bundle.path / data["sources"][source]["file"]
        assert data["sources"][source]["sha256"] == file_sha256(file)
    assert data["models"]["pns_plus"] == {"backbone": "resnet18", "input_size": [256, 448]}


def test_polyp_export_writes_a_loadable_bundle_with_graphs(
    small_bundle: ModelBundle, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "exported"
    code = export_main(["--sam", str(small_bundle.path / "samihs.safetensors"),
                        "--pns", str(small_bundle.path / "pns_plus.safetensors"),
                        "--pns-backbone", "resnet18", "--out", str(out), "--precision", "fp32"])
    assert code == 0, capsys.readouterr().err
    bundle = load_bundle(out)
    manifest = GraphManifest.read(out / "onnx")
    assert manifest.sources == bundle.sources
    assert bundle.sources["samihs"]["sha256"] == small_bundle.sources["samihs"]["sha256"]
    assert all(manifest.precisions(g) == ["fp32"] for g in manifest.data["graphs"])
    assert json.loads((out / "bundle.json").read_text())["pns_plus"]["backbone"] == "resnet18"


def test_polyp_export_reports_bad_input_in_one_line(tmp_path: Path, capsys) -> None:
    missing = str(tmp_path / "missing.safetensors")
    assert export_main(["--sam", missing, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--pns" in err
    assert export_main(["--model", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not found" in err


@pytest.mark.slow
def test_vit_b_encoder_graph_at_256_matches_pytorch(real_clip, tmp_path: Path) -> None:
    torch.manual_seed(0)
    samihs = build_samihs("vit_b", image_size=256, window_size=8)
    spec = graph_specs_for(samihs)
    export_graph(graph_modules(_dummy_pns(), samihs)["sam_encoder"], spec, tmp_path / "enc.onnx")
    image, _ = preprocess_frame(real_clip[0][0], 256, "BGR")
    session = onnxruntime.InferenceSession(str(tmp_path / "enc.onnx"),
                                           providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": image.numpy()})
    with torch.no_grad():
        expected = samihs.image_encoder(image).numpy()
    assert got.shape == (1, 256, 16, 16)
    np.testing.assert_allclose(got, expected, atol=TOLERANCE, rtol=0)


def _dummy_pns():
    from models import build_pns_plus

    return build_pns_plus(backbone="resnet18")


def graph_specs_for(samihs):
    return graph_specs(_dummy_pns(), samihs)["sam_encoder"]
