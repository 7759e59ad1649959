"""Streaming PNS+ on a real clip: equals the full network, one backbone pass per frame, exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from torch import nn

from models.pipeline import StreamingPNS
from models.pns_plus import (
    FrameEncoder,
    PNSPlus,
    TemporalHead,
    build_pns_plus,
    frame_to_input,
)

Clip = list[tuple[np.ndarray, np.ndarray]]


def calibrate_batch_norm(model: PNSPlus, frames: torch.Tensor) -> PNSPlus:
    """Sets every BatchNorm's running statistics from one real clip, then eval mode.

    A randomly initialised network saturates its sigmoid to exactly 0 or 1 on most pixels, which
    would make equality checks nearly vacuous; realistic statistics keep outputs inside (0, 1).
    """
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # cumulative average: one pass sets the clip's statistics
    model.train()
    with torch.no_grad():
        model(frames[:6].unsqueeze(0))
    return model.eval()


def clip_tensors(real_clip: Clip, input_size: tuple[int, int] = (256, 448)) -> torch.Tensor:
    """(8, 3, H, W) network inputs of the fixture's frames."""
    return torch.cat([frame_to_input(frame, input_size) for frame, _ in real_clip])


def full_forward_for_newest(
    model: PNSPlus, frames: torch.Tensor, anchor: int, t: int
) -> torch.Tensor:
    """The released network's causal use: forward on (anchor, t-4..t), start padded, index 4."""
    window = [frames[max(i, 0)] for i in range(t - 4, t + 1)]
    clip = torch.stack([frames[anchor], *window]).unsqueeze(0)
    with torch.inference_mode():
        return model(clip)[4:5]


@pytest.fixture(scope="module", params=["res2net50_v1b_26w_4s", "resnet18", "efficientnet_lite0"])
def calibrated(request: pytest.FixtureRequest, real_clip: Clip) -> tuple[PNSPlus, torch.Tensor]:
    torch.manual_seed(0)
    frames = clip_tensors(real_clip)
    return calibrate_batch_norm(build_pns_plus(backbone=request.param), frames), frames


def test_streaming_equals_full_forward_on_real_clip(
    calibrated: tuple[PNSPlus, torch.Tensor],
) -> None:
    model, frames = calibrated
    stream = StreamingPNS(model)
    for t in range(len(frames)):
        streamed = stream.push(frames[t])
        expected = full_forward_for_newest(model, frames, anchor=0, t=t)
        assert streamed.shape == (1, 1, 256, 448)
        torch.testing.assert_close(streamed, expected, atol=1e-5, rtol=0, msg=f"frame {t}")
        # Not a vacuous comparison: the map is neither saturated nor constant.
        inside = ((expected > 0.01) & (expected < 0.99)).float().mean()
        assert inside > 0.5 and expected.std() > 0.01


def test_reset_and_refresh_anchor(real_clip: Clip) -> None:
    # In float64 at a small size: this checks which frames the stream uses, free of float32
    # rounding (random weights make raw-logit aggregation reach ~1e4, so batch-size-dependent
    # conv rounding alone moves float32 outputs by up to ~1e-5).
    torch.manual_seed(0)
    frames = clip_tensors(real_clip, (128, 224))
    model = build_pns_plus(backbone="resnet18", input_size=(128, 224))
    model = calibrate_batch_norm(model, frames).double()
    frames = frames.double()
    stream = StreamingPNS(model)
    for t in range(5):
        stream.push(frames[t])
    stream.refresh_anchor()  # frame 4 becomes the anchor
    streamed = stream.push(frames[5])
    assert streamed.dtype == torch.float64
    torch.testing.assert_close(
        streamed, full_forward_for_newest(model, frames, anchor=4, t=5), atol=1e-9, rtol=0
    )

    stream.reset()  # a new source starting at frame 6
    assert stream.frames_in_buffer == 0
    first = stream.push(frames[6])
    expected = full_forward_for_newest(model, frames[6:], anchor=0, t=0)
    torch.testing.assert_close(first, expected, atol=1e-9, rtol=0)
    # Anchor and padding really are what the checks above say: another anchor changes the map.
    other = full_forward_for_newest(model, frames, anchor=0, t=5)
    assert (other - streamed).abs().max() > 1e-3


def test_one_backbone_call_per_new_frame(real_clip: Clip) -> None:
    torch.manual_seed(0)
    model = build_pns_plus(backbone="resnet18")
    frames = clip_tensors(real_clip)
    calls = []
    hook = model.feature_extractor.register_forward_hook(
        lambda module, args, output: calls.append(args[0].shape[0])
    )
    try:
        stream = StreamingPNS(model)
        for t in range(len(frames)):
            stream.push(frames[t : t + 1])  # (1, 3, H, W) works as well as (3, H, W)
            assert calls == [1] * (t + 1)
        stream.refresh_anchor()
        stream.reset()
        stream.push(frames[0])
        assert calls == [1] * (len(frames) + 1)
    finally:
        hook.remove()


def test_streaming_rejects_batches_and_wrong_sizes() -> None:
    stream = StreamingPNS(build_pns_plus(backbone="resnet18"))
    with pytest.raises(ValueError, match="one frame"):
        stream.push(torch.rand(2, 3, 256, 448))
    with pytest.raises(ValueError, match=r"\(B, 3, 256, 448\).*got \(1, 3, 288, 384\)"):
        stream.push(torch.rand(3, 288, 384))


def test_frame_to_input_resizes_and_converts_bgr_to_rgb(real_clip: Clip) -> None:
    bgr = real_clip[0][0]
    tensor = frame_to_input(bgr)
    assert tensor.shape == (1, 3, 256, 448) and tensor.dtype == torch.float32
    assert 0 <= tensor.min() and tensor.max() <= 1
    rgb = frame_to_input(np.ascontiguousarray(bgr[:, :, ::-1]), bgr=False)
    torch.testing.assert_close(tensor, rgb, atol=0, rtol=0)
    # Colonoscopy frames are reddish: red (channel 0 after conversion) dominates blue.
    assert tensor[0, 0].mean() > tensor[0, 2].mean()
    with pytest.raises(ValueError, match="uint8"):
        frame_to_input(bgr.astype(np.float32))


def test_onnx_export_of_encoder_and_temporal_head(
    calibrated: tuple[PNSPlus, torch.Tensor], tmp_path: Path
) -> None:
    model, frames = calibrated
    with torch.no_grad():
        features = model.encode_frame(frames[:5])
    recent_low, recent_high = features.low.unsqueeze(0), features.high.unsqueeze(0)
    anchor_high = features.high[:1]
    # Features pass through ~20 float32 layers (ONNX Runtime fuses differently): compare them
    # relative to their scale; the probabilities absolutely.
    cases = [
        (FrameEncoder(model), (frames[:1],), ["frame"], ["low", "high"], 1e-3),
        (
            TemporalHead(model),
            (anchor_high, recent_low, recent_high),
            ["anchor_high", "recent_low", "recent_high"],
            ["probability"],
            1e-4,
        ),
    ]
    for wrapper, inputs, input_names, output_names, tolerance in cases:
        path = tmp_path / f"{type(wrapper).__name__}.onnx"
        torch.onnx.export(
            wrapper,
            inputs,
            str(path),
            dynamo=False,
            opset_version=18,
            input_names=input_names,
            output_names=output_names,
        )
        assert not model.training  # exporting must leave the model in eval mode
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(None, {n: x.numpy() for n, x in zip(input_names, inputs, strict=True)})
        with torch.no_grad():
            expected = wrapper(*inputs)
        expected = expected if isinstance(expected, tuple) else (expected,)
        for ort_out, torch_out in zip(got, expected, strict=True):
            scale = max(1.0, torch_out.abs().max().item())
            np.testing.assert_allclose(ort_out, torch_out.numpy(), atol=tolerance * scale, rtol=0)
