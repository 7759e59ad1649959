"""fp16 copies of fp32 ONNX graphs, with normalisation and softmax kept in fp32.

LayerNorm overflows in fp16 in large ViTs (the variance of wide activations passes 65504), and
softmax loses its small probabilities; both stay in fp32 "islands" with casts around them. Kept
in fp32: every LayerNormalization and Softmax node, and every node in the module scope of a
hand-written normalisation (a scope holding ReduceMean or Pow, e.g. SAM's LayerNorm2d and PNS+'s
squeeze-excite mean). Inputs and outputs stay fp32, so callers do not change.
The conversion itself is onnxruntime's float16 converter (a copy of onnxconverter-common's).
"""

from __future__ import annotations

from pathlib import Path

import onnx

ISLAND_OPS = ("LayerNormalization", "Softmax")
NORMALISATION_MARKERS = ("ReduceMean", "Pow")


def fp32_island_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes kept in fp32 (see the module docstring)."""
    scopes = {
        node.name.rsplit("/", 1)[0]
        for node in model.graph.node
        if node.op_type in NORMALISATION_MARKERS and "/" in node.name
    }
    return [
        node.name
        for node in model.graph.node
        if node.op_type in ISLAND_OPS or (node.name.rsplit("/", 1)[0] in scopes and node.name)
    ]


def convert_to_fp16(source: Path, target: Path) -> list[str]:
    """Writes an fp16 copy of `source` to `target`; returns the names kept in fp32."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    model = onnx.load(str(source))
    islands = fp32_island_nodes(model)
    converted = convert_float_to_float16(
        model,
        keep_io_types=True,
        op_block_list=[*DEFAULT_OP_BLOCK_LIST, *ISLAND_OPS],
        node_block_list=islands,
    )
    onnx.save(converted, str(target))
    return islands
