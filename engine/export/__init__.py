"""ONNX export of a bundle's graphs (fp32, and fp16 with fp32 islands), and `polyp-export`."""

from .cli import main
from .exporter import cache_root, ensure_graphs, export_graphs
from .graphs import OPSET, GraphSpec, graph_modules, graph_specs
from .manifest import GraphManifest, GraphsError

__all__ = [
    "OPSET",
    "GraphManifest",
    "GraphSpec",
    "GraphsError",
    "cache_root",
    "ensure_graphs",
    "export_graphs",
    "graph_modules",
    "graph_specs",
    "main",
]
