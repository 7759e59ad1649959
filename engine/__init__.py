"""The engine: exported graphs, back ends, the streaming segmenter and its worker thread."""

from .bundle import BundleError, ModelBundle, load_bundle, save_bundle
from .stream import (
    FrameResult,
    InferenceWorker,
    StageTimings,
    StreamSegmenter,
    WorkerResult,
    build_stream_segmenter,
)

__all__ = [
    "BundleError",
    "FrameResult",
    "InferenceWorker",
    "ModelBundle",
    "StageTimings",
    "StreamSegmenter",
    "WorkerResult",
    "build_stream_segmenter",
    "load_bundle",
    "save_bundle",
]
