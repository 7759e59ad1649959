"""TensorRT: the engine cache and optimization profiles here; engines themselves need TensorRT
and a GPU (skipped otherwise, with the reason)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.export.manifest import GraphManifest
from engine.runners.tensorrt_runner import profiles_for
from engine.tensorrt import (
    EngineCache,
    TensorRTUnavailable,
    engine_key,
    import_tensorrt,
    island_prefixes,
    tensorrt_available,
)

pytest_plugins = ("engine_helpers",)  # shared fixtures: a small bundle, its graphs

PROFILES = {"image": ((1, 3, 256, 256),) * 3}


class CountingBuild:
    """A build function that returns distinct bytes per call and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return f"engine #{self.calls}".encode()


def test_engine_cache_reuses_a_matching_engine_and_rebuilds_on_any_change(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path / "engines")
    build = CountingBuild()
    key = engine_key("abc", "NVIDIA H100 80GB HBM3", "10.13.0", "fp16", PROFILES)
    assert cache.get("sam_encoder", key, build) == b"engine #1"
    assert cache.get("sam_encoder", key, build) == b"engine #1" and build.calls == 1
    changes = [
        engine_key("abd", "NVIDIA H100 80GB HBM3", "10.13.0", "fp16", PROFILES),  # new graph
        engine_key("abc", "NVIDIA A100-SXM4-40GB", "10.13.0", "fp16", PROFILES),  # other GPU
        engine_key("abc", "NVIDIA H100 80GB HBM3", "11.0.0", "fp16", PROFILES),  # other TRT
        engine_key("abc", "NVIDIA H100 80GB HBM3", "10.13.0", "fp32", PROFILES),
    ]
    for n, changed in enumerate(changes, start=2):
        assert cache.get("sam_encoder", changed, build) == f"engine #{n}".encode()
    assert build.calls == 5
    # A damaged cache entry (empty engine, unreadable key file) is rebuilt, not used.
    path = cache.path("sam_encoder", key)
    path.write_bytes(b"")
    assert cache.get("sam_encoder", key, build) == b"engine #6"
    path.with_suffix(".json").write_text("{oops")
    assert cache.get("sam_encoder", key, build) == b"engine #7"


def test_profiles_cover_the_stream_shapes(small_graphs: GraphManifest) -> None:
    decoder = profiles_for(small_graphs, "sam_decoder", max_components=3)
    assert decoder["point_coords"] == ((1, 1, 2), (1, 3, 2), (3, 3, 2))
    assert decoder["point_labels"] == ((1, 1), (1, 3), (3, 3))
    assert decoder["image_embeddings"] == ((1, 256, 16, 16),) * 3
    assert profiles_for(small_graphs, "pns_encoder")["frame"] == ((1, 3, 256, 448),) * 3
    assert profiles_for(small_graphs, "sam_encoder")["image"] == ((1, 3, 256, 256),) * 3


def test_islands_to_pin_in_weak_typed_builds(small_graphs: GraphManifest) -> None:
    prefixes = island_prefixes(small_graphs.path("sam_encoder"))
    assert "/image_encoder/blocks.0/norm1/LayerNormalization" in prefixes
    assert "/image_encoder/neck/neck.1/" in prefixes  # SAM's hand-written LayerNorm2d
    assert not any("qkv" in p for p in prefixes)


def _tensorrt_importable() -> bool:
    try:
        import_tensorrt()
    except TensorRTUnavailable:
        return False
    return True


@pytest.mark.skipif(_tensorrt_importable(), reason="TensorRT is installed here")
def test_missing_tensorrt_is_explained_in_one_line(small_bundle) -> None:
    from engine.runners import create_runner

    with pytest.raises(TensorRTUnavailable) as error:
        import_tensorrt()
    message = str(error.value)
    assert "\n" not in message and "pip install" in message and "--backend" in message
    with pytest.raises(RuntimeError, match="--backend"):  # no GPU, or no TensorRT
        create_runner(small_bundle, "tensorrt-fp16")


@pytest.mark.gpu
@pytest.mark.skipif(not tensorrt_available(), reason="needs TensorRT and a CUDA GPU (absent here)")
def test_tensorrt_stream_matches_onnxruntime(real_clip, small_bundle, tmp_path: Path) -> None:
    from engine import StreamSegmenter

    ort = StreamSegmenter(small_bundle, "onnxruntime-cpu")
    for backend, atol in (("tensorrt-fp32", 1e-3), ("tensorrt-fp16", 0.05)):
        trt_stream = StreamSegmenter(small_bundle, backend)
        ort.reset()
        for frame, _ in real_clip:
            expected, got = ort.process(frame), trt_stream.process(frame)
            assert np.abs(got.pns_probability - expected.pns_probability).max() < atol
            union = (got.mask | expected.mask).sum()
            if union:
                assert (got.mask & expected.mask).sum() / union > 0.95
