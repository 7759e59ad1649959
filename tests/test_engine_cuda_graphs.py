"""The CUDA-graph and torch.compile options of the PyTorch back end, as far as a CPU can check
them: refusals in one line, and the capture-time stand-in for SAM's relative positions (the
replays themselves are in tests/test_engine_gpu.py)."""

from __future__ import annotations

import pytest
import torch
from segment_anything.modeling import image_encoder as sam_image_encoder

from engine.bundle import ModelBundle
from engine.runners import create_runner
from engine.runners.cuda_graphs import constant_sam_rel_pos
from models.samihs import build_samihs

pytest_plugins = ("engine_helpers",)  # shared fixtures: a small bundle


def test_cuda_graphs_on_the_cpu_or_with_compile_are_refused_in_one_line(
    small_bundle: ModelBundle,
) -> None:
    with pytest.raises(ValueError, match="drop --cuda-graphs") as refused:
        create_runner(small_bundle, "torch-cpu", cuda_graphs=True)
    assert "\n" not in str(refused.value)
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="one of --cuda-graphs and --compile"):
            create_runner(small_bundle, "torch-cuda-fp16", cuda_graphs=True,
                          compile_mode="default")


def test_sam_rel_pos_stand_in_gives_the_same_embeddings_and_is_undone() -> None:
    torch.manual_seed(0)
    encoder = build_samihs("vit_t", image_size=128, window_size=8).image_encoder.eval()
    image = torch.randn(1, 3, 128, 128)
    original = sam_image_encoder.get_rel_pos
    store: dict = {}
    with torch.inference_mode():
        reference = encoder(image)
        with constant_sam_rel_pos(store):
            first = encoder(image)
            computed = dict(store)
            second = encoder(image)
    assert sam_image_encoder.get_rel_pos is original
    # Every attention block's two tables (height, width), computed once and then reused.
    blocks = sum(1 for m in encoder.modules() if getattr(m, "use_rel_pos", False))
    assert len(computed) == 2 * blocks > 0
    assert all(store[key] is value for key, value in computed.items())
    torch.testing.assert_close(first, reference, rtol=0, atol=0)
    torch.testing.assert_close(second, reference, rtol=0, atol=0)
