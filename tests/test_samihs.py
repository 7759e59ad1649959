"""SAMIHS: equality with SAM at identity adapters, parameter counts, gradients, export."""

from __future__ import annotations

from functools import partial

import numpy as np
import onnxruntime as ort
import pytest
import torch
from segment_anything import build_sam_vit_b
from segment_anything.modeling import (
    ImageEncoderViT,
    MaskDecoder,
    PromptEncoder,
    Sam,
    TwoWayTransformer,
)

from models import build_samihs
from models.samihs import parameter_groups, preprocess_frame


def perturb_(module: torch.nn.Module, std: float = 0.02) -> None:
    """Adds noise to every parameter and buffer, so zero-initialised tables matter too."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            if tensor.is_floating_point():
                tensor.add_(torch.randn(tensor.shape, generator=generator) * std)


def official_sam_vit_b(image_size: int) -> Sam:
    """segment-anything's own ViT-B Sam at `image_size` (its builder only makes 1024)."""
    if image_size == 1024:
        return build_sam_vit_b()
    grid = image_size // 16
    return Sam(
        image_encoder=ImageEncoderViT(
            img_size=image_size,
            depth=12,
            embed_dim=768,
            num_heads=12,
            mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            patch_size=16,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=[2, 5, 8, 11],
            window_size=14,
            out_chans=256,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=256,
            image_embedding_size=(grid, grid),
            input_image_size=(image_size, image_size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8),
            transformer_dim=256,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
    ).eval()


def compare_with_official(image_size: int, tmp_path) -> None:
    official = official_sam_vit_b(image_size)
    perturb_(official)
    checkpoint = tmp_path / "sam_vit_b.pth"
    torch.save(official.state_dict(), checkpoint)
    model = build_samihs("vit_b", image_size=image_size, sam_checkpoint=checkpoint)

    images = torch.randn(1, 3, image_size, image_size)
    box = torch.tensor([[0.2, 0.3, 0.7, 0.8]]) * image_size
    with torch.no_grad():
        expected_embedding = official.image_encoder(images)
        sparse, dense = official.prompt_encoder(points=None, boxes=box, masks=None)
        expected_logits, _ = official.mask_decoder(
            image_embeddings=expected_embedding,
            image_pe=official.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )
        # SAMIHS always returns 256x256 logits; SAM's are 4x the embedding grid.
        expected_logits = torch.nn.functional.interpolate(
            expected_logits, (256, 256), mode="bilinear", align_corners=False
        )
        embedding = model.image_encoder(images)
        logits = model(images, boxes=box)

    assert logits.shape == (1, 1, 256, 256)
    assert expected_logits.abs().max() > 1e-2  # the comparison is not between two near-zero maps
    assert (embedding - expected_embedding).abs().max() <= 1e-4
    assert (logits - expected_logits).abs().max() <= 1e-4


def test_identity_adapters_equal_official_sam_at_256(tmp_path):
    compare_with_official(256, tmp_path)


@pytest.mark.slow
def test_identity_adapters_equal_official_sam_at_1024(tmp_path):
    compare_with_official(1024, tmp_path)


def test_trained_adapters_change_the_output(tmp_path):
    model = build_samihs("vit_t")
    images = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        before = model.image_encoder(images)
        model.image_encoder.blocks[0].attn_adapter.adapter_rescale.fill_(0.5)
        after = model.image_encoder(images)
    assert (after - before).abs().max() > 1e-3


def test_trainable_parameter_counts_vit_b():
    model = build_samihs("vit_b", image_size=256)
    groups = parameter_groups(model)
    assert groups["adapters"] == (174_432, 174_432)
    assert groups["mask_decoder"] == (4_058_340, 4_058_340)
    assert groups["prompt_encoder"] == (6_220, 6_220)
    assert groups["image_encoder (rest)"][0] == 0

    untied = build_samihs("vit_b", image_size=256, tied_adapter=False)
    assert parameter_groups(untied)["adapters"][0] == 174_432 + 2 * 100 * 768


def test_only_trainable_tensors_receive_gradients():
    model = build_samihs("vit_b", image_size=256).train()
    images = torch.randn(2, 3, 256, 256)
    boxes = torch.tensor([[20.0, 20.0, 120.0, 140.0], [60.0, 40.0, 200.0, 220.0]])
    model(images, boxes=boxes).sigmoid().mean().backward()

    # Prompt embeddings that this box-only prompt does not use, the IoU head and the unused
    # multimask heads get no gradient; everything else that trains must, and nothing frozen may.
    used_trainable = (
        "image_encoder.attn_projection.",
        "image_encoder.mlp_projection.",
        "image_encoder.blocks.",
        "mask_decoder.transformer.",
        "mask_decoder.output_upscaling.",
        "mask_decoder.output_hypernetworks_mlps.0.",
        "mask_decoder.mask_tokens.",
        "prompt_encoder.point_embeddings.2.",
        "prompt_encoder.point_embeddings.3.",
    )
    checked = 0
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            assert parameter.grad is None, name
        elif name.startswith(used_trainable):
            assert parameter.grad is not None, name
            checked += parameter.numel()
    assert checked > 0.85 * sum(p.numel() for p in model.parameters() if p.requires_grad)
    blocks = model.image_encoder.blocks
    assert blocks[0].attn_adapter.adapter_bias.grad.abs().sum() > 0
    assert blocks[11].mlp_adapter.adapter_rescale.grad.abs().sum() > 0
    assert model.image_encoder.patch_embed.proj.weight.grad is None
    assert model.image_encoder.blocks[3].attn.qkv.weight.grad is None


def test_untied_adapter_matches_tied_when_up_is_the_transpose():
    tied = build_samihs("vit_t")
    untied = build_samihs("vit_t", tied_adapter=False)
    perturb_(tied)
    state = tied.state_dict()
    for position in ("attn", "mlp"):
        down = state[f"image_encoder.{position}_projection.down"]
        state[f"image_encoder.{position}_projection.up"] = down.t().clone()
    untied.load_state_dict(state)
    images = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        assert torch.allclose(tied(images), untied(images), atol=1e-5)


def test_released_window_order_differs_only_with_padding():
    images = torch.randn(1, 3, 256, 256)
    outputs = {}
    reference = build_samihs("vit_t")
    perturb_(reference, std=0.1)
    weights = {k: v for k, v in reference.state_dict().items() if "rel_pos" not in k}
    for window in (8, 6):  # 16x16 tokens: windows of 8 need no padding, of 6 do
        for released in (False, True):
            model = build_samihs("vit_t", window_size=window, released_window_order=released)
            model.load_state_dict(weights, strict=False)  # same weights; tables follow the window
            with torch.no_grad():
                outputs[window, released] = model.image_encoder(images)
    assert torch.allclose(outputs[8, False], outputs[8, True], atol=1e-6)
    assert (outputs[6, False] - outputs[6, True]).abs().max() > 1e-4


def test_batched_prompts_are_per_image():
    model = build_samihs("vit_t")
    perturb_(model)
    images = torch.randn(2, 3, 256, 256)
    boxes = torch.tensor([[10.0, 10.0, 90.0, 90.0], [100.0, 120.0, 240.0, 250.0]])
    points = (torch.tensor([[[50.0, 50.0]], [[170.0, 180.0]]]), torch.ones(2, 1))
    mask = torch.randn(2, 1, 256, 256)
    with torch.no_grad():
        batched = model(images, boxes=boxes, points=points, mask_prompt=mask)
        for i in range(2):
            single = model(
                images[i : i + 1],
                boxes=boxes[i : i + 1],
                points=(points[0][i : i + 1], points[1][i : i + 1]),
                mask_prompt=mask[i : i + 1],
            )
            assert torch.allclose(batched[i : i + 1], single, atol=1e-5)
        no_prompt = model(images)
    assert no_prompt.shape == (2, 1, 256, 256)


@pytest.mark.parametrize(
    "shape",
    [(1, 1, 256, 256), (1, 4, 256, 256), (1, 3, 512, 512), (1, 3, 256, 200), (3, 256, 256)],
)
def test_wrong_image_shapes_raise_value_error(shape):
    model = build_samihs("vit_t")
    with pytest.raises(ValueError, match="256"):
        model(torch.zeros(shape))


def test_wrong_prompt_shapes_raise_value_error():
    model = build_samihs("vit_t")
    images = torch.zeros(2, 3, 256, 256)
    with pytest.raises(ValueError, match="boxes"):
        model(images, boxes=torch.zeros(1, 4))
    with pytest.raises(ValueError, match="mask_prompt"):
        model(images, mask_prompt=torch.zeros(2, 256, 256))


def test_image_encoder_exports_to_onnx_and_runs(tmp_path, real_clip):
    model = build_samihs("vit_t")
    perturb_(model, std=0.05)
    image, _ = preprocess_frame(real_clip[0][0], 256, channel_order="BGR")
    path = tmp_path / "image_encoder.onnx"
    torch.onnx.export(
        model.image_encoder,
        (image,),
        str(path),
        input_names=["image"],
        output_names=["embedding"],
        opset_version=18,
        dynamo=False,
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_embedding,) = session.run(None, {"image": image.numpy()})
    with torch.no_grad():
        torch_embedding = model.image_encoder(image).numpy()
    assert onnx_embedding.shape == (1, 256, 16, 16)
    assert np.abs(onnx_embedding - torch_embedding).max() < 1e-3
