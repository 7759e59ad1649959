"""The engine: exported graphs, back ends, the streaming segmenter and its worker thread.

The names below load on first use (PEP 562), so that a command-line tool under engine/ can
parse its arguments (and print --help) without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BundleError": ".bundle",
    "ModelBundle": ".bundle",
    "load_bundle": ".bundle",
    "save_bundle": ".bundle",
    "FrameResult": ".stream",
    "InferenceWorker": ".stream",
    "StageTimings": ".stream",
    "StreamSegmenter": ".stream",
    "WorkerResult": ".stream",
    "build_stream_segmenter": ".stream",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
