"""SAMIHS checkpoints: official SAM and public-SAMIHS layouts, own safetensors, bad files."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
import torch
from conftest import layout_state_dict
from safetensors.torch import load_file

from models import CheckpointError, build_samihs, load_samihs
from models.samihs import is_trainable_key, save_samihs_weights
from models.weights import read_state_dict


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.fixture(scope="module")
def official_sam_file(tmp_path_factory) -> Path:
    """A random checkpoint with exactly the layout of sam_vit_b_01ec64.pth."""
    path = tmp_path_factory.mktemp("ckpt") / "sam_vit_b_01ec64.pth"
    torch.save(layout_state_dict("sam_vit_b_official"), path)
    return path


def test_official_sam_layout_loads_and_resizes_position_tables(official_sam_file):
    state = torch.load(official_sam_file, weights_only=True)
    model = build_samihs("vit_b", image_size=256, sam_checkpoint=official_sam_file)
    loaded = model.state_dict()
    assert loaded["image_encoder.pos_embed"].shape == (1, 16, 16, 768)
    assert loaded["image_encoder.blocks.2.attn.rel_pos_h"].shape == (31, 64)  # global: 2*16-1
    assert loaded["image_encoder.blocks.0.attn.rel_pos_h"].shape == (27, 64)  # window 14
    assert torch.equal(
        loaded["image_encoder.blocks.0.attn.rel_pos_h"],
        state["image_encoder.blocks.0.attn.rel_pos_h"],
    )
    # A pos_embed resized 64 -> 16 keeps its mean (an interpolation, not a re-initialisation).
    assert torch.allclose(
        loaded["image_encoder.pos_embed"].mean(), state["image_encoder.pos_embed"].mean(), atol=2e-3
    )
    for key in (
        "image_encoder.blocks.7.mlp.lin1.weight",
        "mask_decoder.iou_token.weight",
        "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix",
    ):
        assert torch.equal(loaded[key], state[key]), key
    # Adapters stay at identity: the official file has none.
    assert loaded["image_encoder.blocks.4.attn_adapter.adapter_rescale"].abs().sum() == 0


def test_official_sam_layout_loads_at_1024_without_resizing(official_sam_file):
    state = torch.load(official_sam_file, weights_only=True)
    model = build_samihs("vit_b", sam_checkpoint=official_sam_file)
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value), key


def test_public_samihs_layout_loads_its_adapters(tmp_path):
    state = layout_state_dict("samihs_vit_b_official")
    path = tmp_path / "samihs_vit_b.pth"
    torch.save(state, path)
    model = build_samihs("vit_b", image_size=512, sam_checkpoint=path)
    loaded = model.state_dict()
    assert torch.equal(
        loaded["image_encoder.attn_projection.down"], state["image_encoder.att_down_projection"]
    )
    assert torch.equal(
        loaded["image_encoder.mlp_projection.down"], state["image_encoder.mlp_down_projection"]
    )
    assert torch.equal(
        loaded["image_encoder.blocks.11.mlp_adapter.adapter_bias"],
        state["image_encoder.blocks.11.mlp_adapter.adpater_bias"],
    )
    assert torch.equal(
        loaded["image_encoder.blocks.3.attn_adapter.adapter_rescale"],
        state["image_encoder.blocks.3.attn_adapter.adapter_rescale"],
    )


def test_public_samihs_layout_with_module_prefix_loads(tmp_path):
    state = layout_state_dict("samihs_vit_b_official", prefix="module.")
    path = tmp_path / "samihs_ddp.pth"
    torch.save(state, path)
    model = build_samihs("vit_b", image_size=256, sam_checkpoint=path)
    assert torch.equal(
        model.state_dict()["mask_decoder.iou_token.weight"],
        state["module.mask_decoder.iou_token.weight"],
    )


def test_wrong_variant_fails_with_one_line_naming_file_and_keys(official_sam_file):
    with pytest.raises(CheckpointError) as error:
        build_samihs("vit_t", sam_checkpoint=official_sam_file)
    message = one_line(error)
    assert str(official_sam_file) in message
    assert "shape mismatch" in message and "image_encoder.patch_embed.proj.weight" in message
    assert "looks like vit_b" in message


def test_wrong_adapter_width_fails(tmp_path):
    path = tmp_path / "samihs_vit_b.pth"
    torch.save(layout_state_dict("samihs_vit_b_official"), path)
    with pytest.raises(CheckpointError, match="attn_projection.down"):
        build_samihs("vit_b", image_size=256, adapter_dim=64, sam_checkpoint=path)


def test_checkpoint_of_another_network_fails(tmp_path):
    path = tmp_path / "pns_plus.pth"
    torch.save(layout_state_dict("pns_plus_official", prefix="module."), path)
    with pytest.raises(CheckpointError) as error:
        build_samihs("vit_t", sam_checkpoint=path)
    assert "missing keys" in one_line(error) and str(path) in one_line(error)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_pth_fails_with_one_line(tmp_path, official_sam_file, damage):
    path = tmp_path / "damaged.pth"
    data = official_sam_file.read_bytes()
    content = {"truncated": data[: len(data) // 3], "garbage": os.urandom(4096), "empty": b""}
    path.write_bytes(content[damage])
    with pytest.raises(CheckpointError) as error:
        build_samihs("vit_b", image_size=256, sam_checkpoint=path)
    assert str(path) in one_line(error) and "damaged" in one_line(error)


def test_damaged_safetensors_fails_with_one_line(tmp_path):
    model = build_samihs("vit_t")
    path = tmp_path / "model.safetensors"
    save_samihs_weights(model, path, contents="all")
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError) as error:
        load_samihs(path)
    assert str(path) in one_line(error)


def test_missing_file_fails_with_one_line(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        build_samihs("vit_t", sam_checkpoint=tmp_path / "nope.pth")


class _RunsCodeWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_carries_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pth"
    torch.save({"image_encoder.pos_embed": _RunsCodeWhenUnpickled(marker)}, path)
    with pytest.raises(CheckpointError) as error:
        build_samihs("vit_t", sam_checkpoint=path)
    assert "refused" in one_line(error) and str(path) in one_line(error)
    assert not marker.exists()


def test_adapter_file_holds_trainable_tensors_and_reproduces_logits(tmp_path, official_sam_file):
    model = build_samihs("vit_b", image_size=256, sam_checkpoint=official_sam_file)
    with torch.no_grad():  # stands in for fine-tuning
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(torch.randn_like(parameter) * 0.05)
    path = tmp_path / "adapters.safetensors"
    save_samihs_weights(model, path)

    saved = load_file(str(path))
    assert set(saved) == {k for k in model.state_dict() if is_trainable_key(k)}
    assert not any("qkv" in k or "patch_embed" in k for k in saved)
    assert path.stat().st_size < 20e6  # the fine-tuned part only, not the 90M-parameter encoder

    fresh = build_samihs(
        "vit_b", image_size=256, sam_checkpoint=official_sam_file, adapter_checkpoint=path
    )
    rebuilt = load_samihs(path, sam_checkpoint=official_sam_file)
    images = torch.randn(1, 3, 256, 256)
    box = torch.tensor([[30.0, 40.0, 180.0, 200.0]])
    with torch.no_grad():
        expected = model(images, boxes=box)
        assert torch.equal(fresh(images, boxes=box), expected)
        assert torch.equal(rebuilt(images, boxes=box), expected)


def test_adapter_file_on_another_base_warns(tmp_path, official_sam_file):
    model = build_samihs("vit_b", image_size=256, sam_checkpoint=official_sam_file)
    path = tmp_path / "adapters.safetensors"
    save_samihs_weights(model, path)
    with pytest.warns(UserWarning, match="base weights differ"):
        build_samihs("vit_b", image_size=256, adapter_checkpoint=path)


def test_self_contained_file_rebuilds_the_model(tmp_path):
    model = build_samihs("vit_t", adapter_dim=16, window_size=4)
    path = tmp_path / "vit_t.safetensors"
    save_samihs_weights(model, path, contents="all")
    rebuilt = load_samihs(path)
    assert rebuilt.config == model.config
    images = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        assert torch.equal(rebuilt(images), model(images))


def test_weight_file_of_another_architecture_fails(tmp_path):
    path = tmp_path / "vit_t.safetensors"
    save_samihs_weights(build_samihs("vit_t"), path, contents="all")
    with pytest.raises(CheckpointError) as error:
        build_samihs("vit_t", adapter_dim=32, adapter_checkpoint=path)
    assert "adapter 100" in one_line(error) and "adapter 32" in one_line(error)


def test_bytes_that_start_like_a_pickle_fail_with_one_line(tmp_path):
    """Random bytes after a pickle protocol header stop the legacy unpickler at random places
    (IndexError, KeyError, ... before the fix: 29 of 400 of these seeds); each is a damaged file."""
    path = tmp_path / "damaged.pth"
    for seed in range(400):
        path.write_bytes(bytes([0x80, 2]) + random.Random(seed).randbytes(4094))
        with pytest.raises(CheckpointError) as error:
            read_state_dict(path)
        assert str(path) in one_line(error) and "damaged" in one_line(error)
