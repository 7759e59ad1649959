"""Stride-4 features for SAM's mask decoder (SAMIHSConfig.fine_dim, CNN variants): a model grown
from one without them starts with the same masks, the features then change them, the weight file
round-trips, the exported graphs equal PyTorch, and the ViT refuses the option."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from engine.export.graphs import export_graph, graph_modules, graph_specs
from models import build_pns_plus, build_samihs
from models.samihs import load_samihs, preprocess_frame
from models.samihs.checkpoint import save_samihs_weights

FINE_DIM = 8


@pytest.fixture(scope="module")
def base_file(tmp_path_factory) -> Path:
    """A CNN-variant SAMIHS without fine features (random weights), saved whole."""
    torch.manual_seed(0)
    model = build_samihs("efficientnet_lite0")
    path = tmp_path_factory.mktemp("fine") / "base.safetensors"
    save_samihs_weights(model, path, "all")
    return path


def frame_image(real_clip) -> torch.Tensor:
    image, _ = preprocess_frame(real_clip[3][0], 256, "BGR")
    return image


BOX = torch.tensor([[60.0, 50.0, 170.0, 150.0]])


def test_grown_model_starts_with_the_base_masks_and_the_features_then_count(
    base_file: Path, real_clip
) -> None:
    base = load_samihs(base_file)
    grown = build_samihs("efficientnet_lite0", adapter_checkpoint=base_file, fine_dim=FINE_DIM)
    image = frame_image(real_clip)
    with torch.no_grad():
        embeddings = grown.image_encoder(image)
        assert embeddings.shape == (1, 256 + 16 * FINE_DIM, 16, 16)
        assert torch.equal(embeddings[:, :256], base.image_encoder(image))
        expected = base(image, boxes=BOX)
        np.testing.assert_allclose(grown(image, boxes=BOX), expected, atol=1e-5, rtol=0)
        torch.nn.init.normal_(grown.fine_decoder.layers[-1].weight, std=0.5)
        moved = grown(image, boxes=BOX)
    assert (moved - expected).abs().max() > 0.1
    with pytest.raises(ValueError, match="channels"):
        base.decode(embeddings, boxes=BOX)  # a base model fed fine features says so


def test_weight_file_round_trips_with_fine_features(base_file: Path, real_clip, tmp_path) -> None:
    torch.manual_seed(1)
    grown = build_samihs("efficientnet_lite0", adapter_checkpoint=base_file, fine_dim=FINE_DIM)
    torch.nn.init.normal_(grown.fine_decoder.layers[-1].weight, std=0.5)
    path = tmp_path / "grown.safetensors"
    save_samihs_weights(grown, path, "all")
    again = load_samihs(path)
    assert again.config.fine_dim == FINE_DIM
    image = frame_image(real_clip)
    with torch.no_grad():
        assert torch.equal(again(image, boxes=BOX), grown(image, boxes=BOX))


def test_exported_graphs_with_fine_features_match_pytorch(base_file: Path, real_clip, tmp_path):
    torch.manual_seed(2)
    grown = build_samihs("efficientnet_lite0", adapter_checkpoint=base_file, fine_dim=FINE_DIM)
    torch.nn.init.normal_(grown.fine_decoder.layers[-1].weight, std=0.5)
    pns = build_pns_plus(backbone="resnet18")
    specs, modules = graph_specs(pns, grown), graph_modules(pns, grown)
    for name in ("sam_encoder", "sam_decoder"):
        export_graph(modules[name], specs[name], tmp_path / f"{name}.onnx")
    image = frame_image(real_clip)

    def run(name, *inputs):
        session = onnxruntime.InferenceSession(str(tmp_path / f"{name}.onnx"),
                                               providers=["CPUExecutionProvider"])
        feeds = {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs, strict=True)}
        return session.run(None, feeds)[0]

    embeddings = run("sam_encoder", image)
    with torch.no_grad():
        expected_embeddings = grown.image_encoder(image)
        expected = grown.decode(expected_embeddings, boxes=BOX)
    np.testing.assert_allclose(embeddings, expected_embeddings, atol=1e-3, rtol=0)
    corners = BOX.reshape(1, 2, 2)
    logits = run("sam_decoder", torch.from_numpy(embeddings), corners, torch.tensor([[2.0, 3.0]]),
                 torch.zeros(1, 1, 64, 64), torch.zeros(1))
    np.testing.assert_allclose(logits, expected, atol=1e-3, rtol=0)


def test_fine_features_need_a_cnn_variant() -> None:
    with pytest.raises(ValueError, match="fine_dim"):
        build_samihs("vit_t", fine_dim=FINE_DIM)


def test_the_freeze_policy_trains_the_new_layers(base_file: Path) -> None:
    """Under the freeze policy (adapters + decoder), the stride-4 layers train and a "trainable"
    weight file holds them: they are new, like the adapters."""
    grown = build_samihs("efficientnet_lite0", adapter_checkpoint=base_file, fine_dim=FINE_DIM)
    training = {name for name, p in grown.named_parameters() if p.requires_grad}
    assert {"image_encoder.fine.weight", "fine_decoder.layers.3.weight"} <= training
    assert not any(name.startswith("image_encoder.trunk.") for name in training)
