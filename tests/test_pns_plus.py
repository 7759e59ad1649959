"""PNS+ network: the official checkpoint layout, the window attention's semantics, the contract."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from models.pns_plus import UNUSED_CHECKPOINT_PREFIXES, build_pns_plus, ns_window_attention
from models.pns_plus.ns_block import NSBlock
from models.weights import CheckpointError

LAYOUT = Path(__file__).parent / "fixtures" / "checkpoint-layouts" / "pns_plus_official.json"
GLOBAL_DILATIONS = [3, 4, 3, 4]
LOCAL_DILATIONS = [1, 2, 1, 2]


def official_state_dict() -> dict[str, torch.Tensor]:
    """Random tensors with exactly the released checkpoint's keys (with `module.`) and shapes."""
    state = {}
    for key, shape in json.loads(LAYOUT.read_text()).items():
        if key.endswith("num_batches_tracked"):
            value = torch.tensor(1234)
        else:
            value = torch.rand(shape) + 0.5  # positive, so running variances are valid
        state["module." + key] = value
    return state


# ---------------------------------------------------------------- checkpoint layout


def test_official_layout_loads_and_unused_keys_are_ignored(tmp_path: Path) -> None:
    state = official_state_dict()
    path = tmp_path / "PNSPlus.pth"
    torch.save(state, path)

    model = build_pns_plus(checkpoint=path)

    loaded = model.state_dict()
    for key, value in loaded.items():
        assert torch.equal(value, state["module." + key]), key
    ignored = {key[len("module.") :] for key in state} - set(loaded)
    assert ignored == {k for k in ignored if k.startswith(UNUSED_CHECKPOINT_PREFIXES)}
    assert {
        "squeeze.0.weight",
        "feature_extractor.fc.weight",
        "feature_extractor.layer4.2.bn3.running_var",
    } <= ignored
    # Every prefix documented as unused really occurs in the released layout.
    for prefix in UNUSED_CHECKPOINT_PREFIXES:
        assert any(key.startswith(prefix) for key in ignored), prefix


def test_model_keys_are_exactly_the_official_layout_minus_unused() -> None:
    layout = json.loads(LAYOUT.read_text())
    used = {k: tuple(v) for k, v in layout.items() if not k.startswith(UNUSED_CHECKPOINT_PREFIXES)}
    model = {k: tuple(v.shape) for k, v in build_pns_plus().state_dict().items()}
    assert model == used


@pytest.mark.parametrize("damage", ["remove_key", "change_shape", "unknown_key"])
def test_wrong_layout_fails_with_one_line_naming_the_file(tmp_path: Path, damage: str) -> None:
    state = official_state_dict()
    if damage == "remove_key":
        del state["module.NSB_local.key_conv.weight"]
    elif damage == "change_shape":
        state["module.High_RFB.reduce.0.weight"] = torch.rand(64, 1024, 1, 1)
    else:
        state["module.extra_head.weight"] = torch.rand(3)
    path = tmp_path / f"pns_{damage}.pth"
    torch.save(state, path)

    with pytest.raises(CheckpointError) as caught:
        build_pns_plus(checkpoint=path)

    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    expected = {
        "remove_key": "NSB_local.key_conv.weight",
        "change_shape": "High_RFB.reduce.0",
        "unknown_key": "extra_head.weight",
    }[damage]
    assert expected in message


def test_official_checkpoint_at_another_input_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "PNSPlus.pth"
    torch.save(official_state_dict(), path)
    with pytest.raises(CheckpointError, match=r"NSB_global\.bn\.weight \(8, 16, 28\)"):
        build_pns_plus(checkpoint=path, input_size=(128, 224))


# ---------------------------------------------------------------- window attention


def naive_ns_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, radius: int, dilations: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel by pixel, as the released CUDA kernels do it: logit 0 outside the frame (it still
    enters the softmax), values outside contribute nothing, values weighted by raw logits, gate =
    max softmax probability over heads and window positions."""
    batch, query_frames, channels, height, width = query.shape
    frames = key.shape[1]
    head_dim = channels // len(dilations)
    aggregated = torch.zeros_like(query)
    gate = torch.zeros(batch, query_frames, height, width, dtype=query.dtype)
    for b in range(batch):
        for q in range(query_frames):
            for y in range(height):
                for x in range(width):
                    peaks = []
                    for head, dilation in enumerate(dilations):
                        ch = slice(head * head_dim, (head + 1) * head_dim)
                        q_vec = query[b, q, ch, y, x]
                        logits, total = [], torch.zeros(head_dim, dtype=query.dtype)
                        for t in range(frames):
                            for dy in range(-radius, radius + 1):
                                for dx in range(-radius, radius + 1):
                                    yy, xx = y + dy * dilation, x + dx * dilation
                                    if 0 <= yy < height and 0 <= xx < width:
                                        logit = (q_vec * key[b, t, ch, yy, xx]).sum()
                                        logit = logit / math.sqrt(head_dim)
                                        total = total + logit * value[b, t, ch, yy, xx]
                                    else:
                                        logit = torch.zeros((), dtype=query.dtype)
                                    logits.append(logit)
                        aggregated[b, q, ch, y, x] = total
                        peaks.append(torch.softmax(torch.stack(logits), dim=0).max())
                    gate[b, q, y, x] = torch.stack(peaks).max()
    return aggregated, gate


@pytest.mark.parametrize("dilations", [GLOBAL_DILATIONS, LOCAL_DILATIONS], ids=["global", "local"])
def test_window_attention_equals_naive_loop(dilations: list[int]) -> None:
    torch.manual_seed(0)
    # 7x8 frames: with radius 3 every pixel's window crosses the border for dilation >= 2, and
    # only the middle rows/columns have a full window at dilation 1.
    shape_q, shape_kv = (1, 2, 8, 7, 8), (1, 3, 8, 7, 8)
    inputs = [
        torch.randn(s, dtype=torch.float64, requires_grad=True)
        for s in (shape_q, shape_kv, shape_kv)
    ]
    weights = torch.randn(shape_q, dtype=torch.float64), torch.randn(2, 7, 8, dtype=torch.float64)

    results = []
    for attention in (ns_window_attention, naive_ns_attention):
        aggregated, gate = attention(*inputs, 3, dilations)
        loss = (aggregated * weights[0]).sum() + (gate * weights[1]).sum()
        results.append((aggregated, gate, torch.autograd.grad(loss, inputs)))

    (fast_agg, fast_gate, fast_grads), (slow_agg, slow_gate, slow_grads) = results
    torch.testing.assert_close(fast_agg, slow_agg, atol=1e-5, rtol=0)
    torch.testing.assert_close(fast_gate, slow_gate, atol=1e-5, rtol=0)
    for fast, slow in zip(fast_grads, slow_grads, strict=True):
        torch.testing.assert_close(fast, slow, atol=1e-5, rtol=0)


def test_window_attention_equals_naive_loop_for_a_batch_of_two() -> None:
    """The gather indices are per batch item: the second item must not read the first's rows."""
    torch.manual_seed(1)
    query = torch.randn(2, 1, 8, 5, 6, dtype=torch.float64)
    key, value = (torch.randn(2, 2, 8, 5, 6, dtype=torch.float64) for _ in range(2))
    fast = ns_window_attention(query, key, value, 3, LOCAL_DILATIONS)
    slow = naive_ns_attention(query, key, value, 3, LOCAL_DILATIONS)
    for a, b in zip(fast, slow, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


@pytest.mark.parametrize("dilations", [GLOBAL_DILATIONS, LOCAL_DILATIONS], ids=["global", "local"])
def test_window_attention_exports_to_a_handful_of_onnx_nodes(tmp_path: Path, dilations) -> None:
    """One Gather for keys and one for values instead of a Slice per window offset (the shifted
    slices exported as 1794 nodes, 248 of them Slice and 214 Unsqueeze); ONNX Runtime agrees."""
    import warnings

    import numpy as np
    import onnx
    import onnxruntime

    class Attention(torch.nn.Module):
        def forward(self, query, key, value):
            return ns_window_attention(query, key, value, 3, dilations)

    torch.manual_seed(0)
    inputs = (torch.randn(1, 1, 32, 16, 28), torch.randn(1, 5, 32, 16, 28),
              torch.randn(1, 5, 32, 16, 28))
    path = tmp_path / "attention.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Attention(), inputs, str(path), dynamo=False, opset_version=18,
                          input_names=["query", "key", "value"])
    ops = [node.op_type for node in onnx.load(str(path)).graph.node if node.op_type != "Constant"]
    assert len(ops) <= 30, sorted(ops)
    assert ops.count("Gather") == 2 and "Slice" not in ops and "Unsqueeze" not in ops

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {name: x.numpy() for name, x in zip(("query", "key", "value"), inputs, strict=True)}
    for got, want in zip(session.run(None, feeds), Attention()(*inputs), strict=True):
        np.testing.assert_allclose(got, want.numpy(), atol=1e-4, rtol=1e-4)


def test_ns_block_wiring_matches_reference_formula() -> None:
    """Projections, one LayerNorm shared by the heads on the query only, gate on the output."""
    torch.manual_seed(0)
    block = NSBlock(
        channels=8, heads=4, head_dim=2, radius=3, dilations=LOCAL_DILATIONS, feature_size=(5, 6)
    ).double()
    with torch.no_grad():
        block.bn.weight.uniform_(0.5, 1.5)
        block.bn.bias.uniform_(-0.5, 0.5)
    anchor = torch.randn(1, 1, 8, 5, 6, dtype=torch.float64)
    frames = torch.randn(1, 3, 8, 5, 6, dtype=torch.float64)

    def project(conv: torch.nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("oc,btchw->btohw", conv.weight[:, :, 0, 0, 0], x)

    query = project(block.query_conv, anchor).reshape(1, 1, 4, 2, 5, 6)
    mean = query.mean(dim=(3, 4, 5), keepdim=True)
    var = query.var(dim=(3, 4, 5), unbiased=False, keepdim=True)
    query = (query - mean) / torch.sqrt(var + block.bn.eps) * block.bn.weight + block.bn.bias
    aggregated, gate = naive_ns_attention(
        query.reshape(1, 1, 8, 5, 6),
        project(block.key_conv, frames),
        project(block.value_conv, frames),
        3,
        LOCAL_DILATIONS,
    )
    expected = project(block.output_Linear, aggregated) * gate[:, :, None]

    torch.testing.assert_close(block(anchor, frames), expected, atol=1e-10, rtol=0)


# ---------------------------------------------------------------- contract


def test_output_contract_default_network() -> None:
    torch.manual_seed(0)
    model = build_pns_plus()
    clip = torch.rand(1, 6, 3, 256, 448)
    with torch.inference_mode():
        out = model(clip)
    assert out.shape == (5, 1, 256, 448)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_non_default_input_size_with_light_backbone() -> None:
    torch.manual_seed(0)
    model = build_pns_plus(backbone="resnet18", input_size=(128, 224))
    assert tuple(model.NSB_global.bn.weight.shape) == (8, 8, 14)
    with torch.inference_mode():
        out = model(torch.rand(2, 6, 3, 128, 224))
    assert out.shape == (10, 1, 128, 224)
    assert out.min() >= 0 and out.max() <= 1


def re_shape(shape: tuple[int, ...]) -> str:
    return r"\(" + r", ".join(str(s) for s in shape) + r"\)"


@pytest.mark.parametrize(
    "shape",
    [(1, 5, 3, 128, 224), (1, 6, 3, 256, 224), (1, 6, 1, 128, 224), (6, 3, 128, 224)],
)
def test_wrong_input_shape_raises_clear_value_error(shape: tuple[int, ...]) -> None:
    model = build_pns_plus(backbone="resnet18", input_size=(128, 224))
    with pytest.raises(ValueError, match=r"\(B, 6, 3, 128, 224\).*got " + re_shape(shape)):
        model(torch.rand(shape))


def test_bad_configuration_raises() -> None:
    with pytest.raises(ValueError, match="multiples of 16"):
        build_pns_plus(backbone="resnet18", input_size=(250, 448))
    with pytest.raises(ValueError, match="unknown PNS\\+ backbone 'vgg'"):
        build_pns_plus(backbone="vgg")
