"""The streaming segmenter on a real clip: equal to the offline PolypSegmenter, stage by stage."""

from __future__ import annotations

import os
import threading
from dataclasses import astuple

import numpy as np
import pytest
import torch

from engine import StreamSegmenter
from engine.bundle import ModelBundle
from engine.runners import resolve_backend
from engine.runners.onnx_runner import beside_threads
from models import PolypSegmenter
from models.prompts import PromptConfig

pytest_plugins = ("engine_helpers",)  # shared fixtures: a small bundle, its graphs

Clip = list[tuple[np.ndarray, np.ndarray]]


def offline_run(bundle: ModelBundle, frames: list[np.ndarray], config: PromptConfig | None = None):
    segmenter = PolypSegmenter(bundle.pns, bundle.samihs, config or bundle.prompt_config)
    return [segmenter(frame) for frame in frames]


@pytest.fixture(scope="module")
def offline(real_clip: Clip, small_bundle: ModelBundle):
    return offline_run(small_bundle, [frame for frame, _ in real_clip])


def test_torch_stream_equals_offline_segmenter_frame_by_frame(
    real_clip: Clip, small_bundle: ModelBundle, offline
) -> None:
    stream = StreamSegmenter(small_bundle, backend="torch-cpu")
    assert stream.backend_name == "torch-cpu"
    sam_frames = 0
    for t, (frame, _) in enumerate(real_clip):
        result = stream.process(frame)
        expected = offline[t]
        np.testing.assert_array_equal(result.pns_probability, expected.pns_probability)
        np.testing.assert_allclose(result.probability, expected.probability, atol=1e-6, rtol=0)
        np.testing.assert_array_equal(result.mask, expected.mask)
        np.testing.assert_allclose(result.boxes, expected.prompts.boxes, atol=1e-4)
        assert result.score == pytest.approx(float(expected.prompts.scores.max()))
        assert result.polyp_present == expected.polyp_present
        assert result.probability.shape == frame.shape[:2]
        assert result.probability.dtype == np.float32
        assert not result.cut
        sam_frames += result.sam_ran
        # Not vacuous: SAM ran and its map is neither empty nor everything.
        assert 0.02 < result.mask.mean() < 0.98
    assert sam_frames == len(real_clip)


def test_onnxruntime_stream_is_close_to_offline(
    real_clip: Clip, small_bundle: ModelBundle, small_graphs, offline
) -> None:
    stream = StreamSegmenter(small_bundle, backend="onnxruntime-cpu")
    assert stream.backend_name == "onnxruntime-cpu"
    for t, (frame, _) in enumerate(real_clip):
        result = stream.process(frame)
        expected = offline[t]
        assert np.abs(result.pns_probability - expected.pns_probability).max() < 1e-4
        assert len(result.boxes) == len(expected.prompts)
        np.testing.assert_allclose(result.boxes, expected.prompts.boxes, atol=2.0)
        assert np.abs(result.probability - expected.probability).mean() < 1e-3
        union = (result.mask | expected.mask).sum()
        assert (result.mask & expected.mask).sum() / union > 0.99


def test_reset_restarts_the_stream_on_the_next_frame(
    real_clip: Clip, small_bundle: ModelBundle, offline
) -> None:
    frames = [frame for frame, _ in real_clip]
    stream = StreamSegmenter(small_bundle, backend="torch-cpu")
    for frame in frames[:2]:
        stream.process(frame)
    stream.reset()
    fresh = offline_run(small_bundle, frames[4:7])
    for frame, expected in zip(frames[4:7], fresh, strict=True):
        result = stream.process(frame)
        np.testing.assert_allclose(result.probability, expected.probability, atol=1e-6, rtol=0)
    # Without the reset the anchor (frame 0) and window differ: the maps are not the same.
    assert np.abs(offline[6].pns_probability - fresh[-1].pns_probability).max() > 1e-3


def test_a_scene_cut_restarts_the_stream(real_clip: Clip, small_bundle: ModelBundle) -> None:
    frames = [frame for frame, _ in real_clip]
    new_scene = [np.ascontiguousarray(255 - f[::-1]) for f in frames[4:6]]  # another "video"
    stream = StreamSegmenter(small_bundle, backend="torch-cpu")
    results = [stream.process(f) for f in [*frames[:2], *new_scene]]
    assert [r.cut for r in results] == [False, False, True, False]
    assert stream.cuts.last_score < 0.2
    fresh = offline_run(small_bundle, new_scene)
    for result, expected in zip(results[2:], fresh, strict=True):
        np.testing.assert_allclose(result.pns_probability, expected.pns_probability, atol=1e-6)
    # With detection off the same frames do not restart the stream.
    off = StreamSegmenter(small_bundle, backend="torch-cpu", cut_threshold=None)
    last = [off.process(f) for f in [*frames[:2], *new_scene]][-1]
    assert not last.cut
    assert np.abs(last.pns_probability - results[-1].pns_probability).max() > 1e-3


def test_no_component_skips_sam(real_clip: Clip, small_bundle: ModelBundle) -> None:
    stream = StreamSegmenter(small_bundle, "torch-cpu", PromptConfig(threshold=0.999))
    calls = []
    hook = small_bundle.samihs.image_encoder.register_forward_hook(lambda *_: calls.append(1))
    try:
        result = stream.process(real_clip[0][0])
    finally:
        hook.remove()
    assert calls == []
    assert not result.sam_ran and not result.polyp_present and result.score == 0.0
    assert result.boxes.shape == (0, 4) and result.boxes.dtype == np.float32
    assert result.probability.shape == real_clip[0][0].shape[:2]
    assert not result.probability.any() and not result.mask.any()
    assert result.timings.sam == 0.0


def test_timings_cover_every_stage(real_clip: Clip, small_bundle: ModelBundle) -> None:
    stream = StreamSegmenter(small_bundle, "torch-cpu")
    timings = stream.process(real_clip[0][0]).timings
    stages = [timings.preprocess, timings.pns, timings.prompts, timings.sam, timings.postprocess]
    assert all(t > 0 for t in stages)
    assert sum(stages) == pytest.approx(timings.total, rel=1e-6)


def test_rgb_input_gives_the_same_result_as_bgr(real_clip: Clip, small_bundle: ModelBundle) -> None:
    bgr = real_clip[2][0]
    expected = StreamSegmenter(small_bundle, "torch-cpu").process(bgr)
    rgb_stream = StreamSegmenter(small_bundle, "torch-cpu", channel_order="RGB")
    result = rgb_stream.process(np.ascontiguousarray(bgr[:, :, ::-1]))
    np.testing.assert_array_equal(result.probability, expected.probability)


def test_bad_frames_and_settings_get_one_line_errors(
    real_clip: Clip, small_bundle: ModelBundle
) -> None:
    stream = StreamSegmenter(small_bundle, "torch-cpu")
    frame = real_clip[0][0]
    with pytest.raises(ValueError, match=r"uint8.*float32"):
        stream.process(frame.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\).*\(288, 384\)"):
        stream.process(frame[:, :, 0])
    with pytest.raises(ValueError, match="unknown back end 'fastest'.*onnxruntime-cpu"):
        StreamSegmenter(small_bundle, "fastest")
    with pytest.raises(ValueError, match="channel_order"):
        StreamSegmenter(small_bundle, "torch-cpu", channel_order="BRG")
    with pytest.raises(ValueError, match="cut_threshold"):
        StreamSegmenter(small_bundle, "torch-cpu", cut_threshold=3.0)
    with pytest.raises(ValueError, match="at least one"):
        StreamSegmenter(small_bundle, "torch-cpu",
                        PromptConfig(use_box=False, use_point=False, use_mask=False))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only choices")
def test_auto_picks_onnxruntime_on_a_cpu_machine_and_cuda_backends_explain(
    small_bundle: ModelBundle,
) -> None:
    assert resolve_backend("auto") == "onnxruntime-cpu"
    assert resolve_backend("torch") == "torch-cpu"
    with pytest.raises(RuntimeError, match="needs a CUDA GPU.*onnxruntime-cpu"):
        StreamSegmenter(small_bundle, "torch-cuda-fp16")


def test_onnxruntime_frames_run_pytorch_glue_on_one_thread_and_restore_it(
    real_clip: Clip, small_bundle: ModelBundle, small_graphs
) -> None:
    """Beside ONNX Runtime on a CPU, PyTorch's small glue ops run on one thread while a frame is
    processed (two OpenMP threads stall whenever another thread of the app holds a core); the
    caller's setting is back afterwards, and the PyTorch back end leaves it alone."""
    stream = StreamSegmenter(small_bundle, backend="onnxruntime-cpu")
    runner = stream.runner
    seen = []
    encode_image = runner.encode_image

    def watched_encode_image(image: torch.Tensor) -> torch.Tensor:
        seen.append(torch.get_num_threads())
        return encode_image(image)

    runner.encode_image = watched_encode_image
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for frame, _ in real_clip[:3]:
            assert stream.process(frame).sam_ran
            assert torch.get_num_threads() == 2
        assert seen == [1, 1, 1]
        torch_stream = StreamSegmenter(small_bundle, backend="torch-cpu")
        assert torch_stream.runner.glue_threads is None
        torch_stream.process(real_clip[0][0])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_onnxruntime_runs_sam_image_step_beside_pns_while_a_polyp_is_in_view(
    real_clip: Clip, small_bundle: ModelBundle, small_graphs
) -> None:
    """With a polyp in view (the last frame had prompts) SAM's image step runs on a second
    thread beside the PNS+ step; every output equals the one-thread sequence's, and a frame
    without prompts sends the next frame back to one thread."""
    parallel = StreamSegmenter(small_bundle, backend="onnxruntime-cpu")
    serial = StreamSegmenter(small_bundle, backend="onnxruntime-cpu")
    serial.sam_image_lane = None
    assert parallel.runner.parallel_sam_image and parallel.sam_image_lane is not None
    threads = []
    encode_image = parallel.runner.encode_image

    def watched_encode_image(image: torch.Tensor) -> torch.Tensor:
        threads.append(threading.get_ident())
        return encode_image(image)

    parallel.runner.encode_image = watched_encode_image
    frames = [frame for frame, _ in real_clip]
    for frame in frames:
        got, expected = parallel.process(frame), serial.process(frame)
        assert got.sam_ran and expected.sam_ran
        np.testing.assert_array_equal(got.pns_probability, expected.pns_probability)
        np.testing.assert_array_equal(got.probability, expected.probability)
        np.testing.assert_array_equal(got.boxes, expected.boxes)
        stages = astuple(got.timings)[:-1]
        assert sum(stages) == pytest.approx(got.timings.total, rel=1e-6)
    caller = threading.get_ident()
    assert threads[0] == caller  # the first frame: no polyp in view yet
    assert len(threads) == len(frames) and all(t != caller for t in threads[1:])

    parallel.prompt_stage.config = PromptConfig(threshold=0.999)  # nothing to prompt
    threads.clear()
    assert not parallel.process(frames[0]).sam_ran
    assert len(threads) == 1  # started early (the last frame had a polyp), result unused
    assert not parallel.process(frames[1]).sam_ran
    assert len(threads) == 1  # no polyp in view: SAM's encoder is not started at all


def test_an_error_in_the_parallel_sam_image_step_reaches_the_caller(
    real_clip: Clip, small_bundle: ModelBundle, small_graphs
) -> None:
    stream = StreamSegmenter(small_bundle, backend="onnxruntime-cpu")
    frames = [frame for frame, _ in real_clip]
    stream.process(frames[0])

    def failing_encode_image(image: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("SAM encoder failed")

    stream.runner.encode_image = failing_encode_image
    with pytest.raises(RuntimeError, match="SAM encoder failed"):
        stream.process(frames[1])


def test_a_graph_beside_another_gets_half_the_threads() -> None:
    assert [beside_threads(n) for n in (1, 2, 3, 8)] == [1, 1, 1, 4]
    assert beside_threads(None) == max(1, len(os.sched_getaffinity(0)) // 2)
