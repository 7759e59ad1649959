"""CUDA paths: fp16 against fp32 on a real clip, and GPU preprocessing. Skipped without CUDA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import StreamSegmenter
from engine.bundle import ModelBundle, load_bundle
from engine.runners import create_runner
from engine.sam_prompts import SamPrompt
from engine.tensorrt import tensorrt_available
from models.pipeline import FramePreprocessor
from models.prompts import prompts_from_probability

pytest_plugins = ("engine_helpers",)  # shared fixtures: a small bundle, its graphs

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none here)"),
]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return 1.0 if union == 0 else float((a & b).sum() / union)


@pytest.fixture(scope="module")
def parity_bundle(small_bundle: ModelBundle) -> tuple[ModelBundle, float]:
    """The bundled demo model when present (trained: its logits are decisive), else the small
    random-weight bundle, and the |logit| below which a pixel counts as undecided.

    Random SAM weights put every logit within +-0.2 of 0, where fp16 rounding alone flips
    pixels; there the IoU is taken over the pixels the fp32 model decides by more than 0.02.
    """
    from engine.stream import DEMO_MODEL_DIR

    if DEMO_MODEL_DIR.is_dir():
        return load_bundle(DEMO_MODEL_DIR), 0.0
    return small_bundle, 0.02


def decided_iou(fast: np.ndarray, reference: np.ndarray, margin: float) -> float:
    """IoU of probability > 0.5 over pixels whose fp32 logit is beyond +-margin."""
    logit = np.log(np.clip(reference, 1e-7, 1)) - np.log(np.clip(1 - reference, 1e-7, 1))
    decided = np.abs(logit) > margin
    return iou((fast > 0.5) & decided, (reference > 0.5) & decided)


def test_gpu_preprocessing_matches_the_cpu_one(real_clip, small_bundle: ModelBundle) -> None:
    frame = real_clip[0][0]
    size = small_bundle.samihs.config.image_size
    cpu = FramePreprocessor(small_bundle.pns_input_size, size, "BGR", "cpu")
    gpu = FramePreprocessor(small_bundle.pns_input_size, size, "BGR", "cuda")
    assert gpu.tensor_path and not cpu.tensor_path
    cpu.start(frame)
    gpu.start(frame)
    assert (gpu.pns_input().cpu() - cpu.pns_input()).abs().max() < 0.02
    (gpu_image, gpu_geometry), (cpu_image, cpu_geometry) = gpu.sam_input(), cpu.sam_input()
    assert gpu_geometry == cpu_geometry
    assert (gpu_image.cpu() - cpu_image).abs().mean() < 0.05


@pytest.mark.parametrize("fp16_backend", ["torch-cuda-fp16", "tensorrt-fp16"])
def test_fp16_stream_matches_fp32_on_a_real_clip(
    real_clip, parity_bundle, fp16_backend: str
) -> None:
    bundle, margin = parity_bundle
    if fp16_backend.startswith("tensorrt") and not tensorrt_available():
        pytest.skip("needs TensorRT (not installed)")
    fp32 = StreamSegmenter(bundle, "torch-cuda")
    fp16 = StreamSegmenter(bundle, fp16_backend)
    assert fp16.backend_name == fp16_backend
    sam_frames = 0
    for frame, _ in real_clip:
        reference, fast = fp32.process(frame), fp16.process(frame)
        pns_gap = np.abs(fast.pns_probability - reference.pns_probability)
        assert pns_gap.max() < 0.05 and pns_gap.mean() < 0.005
        assert fast.mask.shape == reference.mask.shape
        if len(fast.boxes) != len(reference.boxes):
            continue  # a component at the threshold appeared in one precision only
        sam_frames += reference.sam_ran
        assert np.abs(fast.probability - reference.probability).mean() < 0.01
        assert decided_iou(fast.probability, reference.probability, margin) >= 0.99
    assert sam_frames >= len(real_clip) // 2


def test_fp16_sam_logits_are_close_to_fp32(real_clip, parity_bundle) -> None:
    bundle, margin = parity_bundle
    fp32 = create_runner(bundle, "torch-cuda")
    fp16 = create_runner(bundle, "torch-cuda-fp16")
    frame = real_clip[3][0]
    size = bundle.samihs.config.image_size
    pre = FramePreprocessor(bundle.pns_input_size, size, "BGR", "cuda")
    pre.start(frame)
    probability = np.full((256, 448), 0.1, np.float32)
    probability[60:180, 100:300] = 0.9  # one component: SAM gets a box, a point and a mask
    prompts = prompts_from_probability(probability, frame.shape[:2], size)
    prompt = SamPrompt.from_prompts(prompts, "cuda")
    image, _ = pre.sam_input()
    reference = fp32.decode(fp32.encode_image(image), prompt)
    fast = fp16.decode(fp16.encode_image(image), prompt)
    scale = reference.abs().max().item()
    assert (fast - reference).abs().max().item() <= 0.05 * scale
    decided = (reference.abs() > margin).cpu().numpy()
    fast_mask, reference_mask = (fast > 0).cpu().numpy(), (reference > 0).cpu().numpy()
    assert iou(fast_mask & decided, reference_mask & decided) >= 0.99


def test_onnxruntime_cuda_matches_torch_when_available(real_clip, small_bundle) -> None:
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime has no CUDA provider here (onnxruntime-gpu not installed)")
    reference = StreamSegmenter(small_bundle, "torch-cuda")
    ort = StreamSegmenter(small_bundle, "onnxruntime-cuda")
    for frame, _ in real_clip[:4]:
        a, b = reference.process(frame), ort.process(frame)
        assert np.abs(a.pns_probability - b.pns_probability).max() < 1e-3
        assert iou(a.mask, b.mask) >= 0.99


def test_cuda_graph_replays_equal_eager_fp16_frame_after_frame(real_clip, small_bundle) -> None:
    """Each replay reads the new inputs and returns its own outputs (not a buffer that the
    next replay overwrites): two different frames, both equal to eager fp16."""
    eager = create_runner(small_bundle, "torch-cuda-fp16")
    graphed = create_runner(small_bundle, "torch-cuda-fp16", cuda_graphs=True)
    assert graphed.name == "torch-cuda-fp16+cudagraphs"
    size = small_bundle.samihs.config.image_size
    outputs = {}
    for name, runner in (("eager", eager), ("graphed", graphed)):
        pre = FramePreprocessor(small_bundle.pns_input_size, size, "BGR", "cuda")
        results = []
        for frame, _ in real_clip[:2]:
            pre.start(frame)
            low, high = runner.encode_frame(pre.pns_input())
            window = [t.unsqueeze(1).expand(-1, 5, *t.shape[1:]).contiguous()
                      for t in (low, high)]
            probability = runner.temporal_head(high, *window)
            embeddings = runner.encode_image(pre.sam_input()[0])
            results.append((low, high, probability, embeddings))
        outputs[name] = results
    for fast, reference in zip(outputs["graphed"], outputs["eager"], strict=True):
        for a, b in zip(fast, reference, strict=True):
            torch.testing.assert_close(a, b, atol=2e-3, rtol=2e-3)
    first, second = outputs["graphed"]
    assert not torch.equal(first[2], second[2])  # the second frame did not reuse the first's map
