"""The demo model's architecture: PNS+ on an EfficientNet-Lite0 backbone and SAM's decoder on an
EfficientNet-Lite0 image encoder, through a bundle, on both CPU back ends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine import StreamSegmenter
from engine.bundle import load_bundle, save_bundle
from models import build_pns_plus, build_samihs, load_samihs
from models.samihs import save_samihs_weights
from models.weights import CheckpointError

pytest_plugins = ("engine_helpers",)

Clip = list[tuple[np.ndarray, np.ndarray]]


@pytest.fixture(scope="module")
def lite_bundle(real_clip: Clip, tmp_path_factory, engine_cache, one_torch_thread):
    from engine_helpers import calibrate_batch_norm

    torch.manual_seed(0)
    frames = [frame for frame, _ in real_clip]
    pns = build_pns_plus(None, "efficientnet_lite0", (256, 320), pretrained_backbone=True)
    pns = calibrate_batch_norm(pns, frames)
    sam = build_samihs("efficientnet_lite0", pretrained_backbone=True)
    path = save_bundle(tmp_path_factory.mktemp("lite"), pns, sam, "efficientnet_lite0")
    return load_bundle(path)


@pytest.mark.parametrize("variant", ["efficientnet_lite0", "efficientnet_lite2"])
def test_cnn_variant_weight_file_round_trip(variant: str, tmp_path, one_torch_thread) -> None:
    model = build_samihs(variant, pretrained_backbone=True)
    assert model.config.backbone == variant and model.config.embedding_size == 16
    save_samihs_weights(model, tmp_path / "sam.safetensors", contents="all")
    loaded = load_samihs(tmp_path / "sam.safetensors")
    image = torch.randn(1, 3, 256, 256)
    box = torch.tensor([[40.0, 50.0, 160.0, 170.0]])
    with torch.inference_mode():
        assert torch.equal(model(image, boxes=box), loaded(image, boxes=box))
        assert loaded.image_encoder(image).shape == (1, 256, 16, 16)


def test_cnn_weights_trained_at_one_size_load_into_a_model_at_another(
    tmp_path, one_torch_thread
) -> None:
    model = build_samihs("efficientnet_lite0", pretrained_backbone=True)
    save_samihs_weights(model, tmp_path / "sam.safetensors", contents="all")
    file = tmp_path / "sam.safetensors"
    at_320 = build_samihs("efficientnet_lite0", 320, adapter_checkpoint=file)
    assert at_320.config.image_size == 320
    for a, b in zip(at_320.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with torch.inference_mode():
        assert at_320.image_encoder(torch.randn(1, 3, 320, 320)).shape == (1, 256, 20, 20)
    vit = build_samihs("vit_t")
    save_samihs_weights(vit, tmp_path / "vit.safetensors", contents="all")
    with pytest.raises(CheckpointError, match="vit_t at 256px"):  # a ViT's position table
        build_samihs("vit_t", 320, adapter_checkpoint=tmp_path / "vit.safetensors")


def test_pretrained_backbone_only_for_cnn_variants() -> None:
    with pytest.raises(ValueError, match="no pretrained CNN backbone"):
        build_samihs("vit_t", pretrained_backbone=True)
    with pytest.raises(ValueError, match="no packaged ImageNet weights"):
        build_pns_plus(backbone="resnet18", pretrained_backbone=True)


def test_onnxruntime_equals_torch_on_the_lite_bundle(real_clip: Clip, lite_bundle) -> None:
    torch_stream = StreamSegmenter(lite_bundle, backend="torch-cpu")
    onnx_stream = StreamSegmenter(lite_bundle, backend="onnxruntime-cpu")
    sam_frames = 0
    for frame, _ in real_clip:
        expected = torch_stream.process(frame)
        result = onnx_stream.process(frame)
        assert np.abs(result.pns_probability - expected.pns_probability).max() < 1e-4
        assert result.pns_probability.shape == (256, 320)
        assert len(result.boxes) == len(expected.boxes)
        if expected.sam_ran:
            sam_frames += 1
            assert np.abs(result.probability - expected.probability).max() < 1e-3
    assert sam_frames > 0  # not vacuous: SAM ran on some frames


def test_a_bundle_runs_its_cnn_sam_stage_at_the_manifest_image_size(
    real_clip: Clip, lite_bundle, tmp_path
) -> None:
    """bundle.json's samihs.image_size runs the same weights at 320: the model, the graphs and
    both back ends follow it, and graphs exported at the file's own size are not reused."""
    import json
    import shutil

    from engine.export.exporter import ensure_graphs, export_graphs

    path = Path(shutil.copytree(lite_bundle.path, tmp_path / "b320"))
    # Graphs at 256 in the bundle's own folder, for the same weight files: stale for 320.
    export_graphs(lite_bundle.pns, lite_bundle.samihs, path / "onnx", ["fp32"],
                  lite_bundle.sources, lite_bundle.pns_backbone)
    manifest = json.loads((path / "bundle.json").read_text())
    manifest["samihs"]["image_size"] = 320
    (path / "bundle.json").write_text(json.dumps(manifest))
    resized = load_bundle(path)
    assert resized.samihs.config.image_size == 320 and resized.key != lite_bundle.key
    for a, b in zip(resized.samihs.state_dict().values(), lite_bundle.samihs.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    graphs = ensure_graphs(resized, "fp32")
    assert graphs.directory != path / "onnx"
    assert graphs.data["models"]["samihs"]["image_size"] == 320

    torch_stream = StreamSegmenter(resized, backend="torch-cpu")
    onnx_stream = StreamSegmenter(resized, backend="onnxruntime-cpu")
    at_256 = StreamSegmenter(lite_bundle, backend="torch-cpu")
    sam_frames = 0
    for frame, _ in real_clip:
        expected, result, before = (s.process(frame) for s in (torch_stream, onnx_stream, at_256))
        assert result.probability.shape == frame.shape[:2]
        if expected.sam_ran:
            sam_frames += 1
            assert np.abs(result.probability - expected.probability).max() < 1e-3
            assert np.abs(expected.probability - before.probability).max() > 0.05
    assert sam_frames > 0  # not vacuous: SAM ran on some frames
