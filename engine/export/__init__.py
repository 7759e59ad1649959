"""ONNX export of a bundle's graphs (fp32, and fp16 with fp32 islands), and `polyp-export`.

The names below load on first use (PEP 562): `polyp-export --help` imports neither torch nor
ONNX.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "main": ".cli",
    "cache_root": ".exporter",
    "ensure_graphs": ".exporter",
    "export_graphs": ".exporter",
    "OPSET": ".graphs",
    "GraphSpec": ".graphs",
    "graph_modules": ".graphs",
    "graph_specs": ".graphs",
    "GraphManifest": ".manifest",
    "GraphsError": ".manifest",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
