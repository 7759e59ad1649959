"""Models of polyp-live: SAMIHS (SAM + PR adapters), PNS+, prompts, the segmenter, and the
AutoSAM baseline.

Names load on first use, so that light modules (models.errors) import without torch: the tools'
--help must not pay for it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "build_autosam": ".autosam",
    "load_autosam": ".autosam",
    "FrameResult": ".pipeline",
    "InferenceSequence": ".pipeline",
    "StreamingPNS": ".pipeline",
    "build_pns_plus": ".pns_plus",
    "build_samihs": ".samihs",
    "load_samihs": ".samihs",
    "PolypSegmenter": ".segmenter",
    "CheckpointError": ".weights",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
