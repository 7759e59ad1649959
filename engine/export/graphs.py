"""The four ONNX graphs of a bundle: what goes in and out of each, and how to export them.

    pns_encoder   frame (1, 3, H, W) in [0, 1]  -> low (1, 24, H/8, W/8), high (1, 32, H/16, W/16)
    pns_temporal  anchor_high (1, 32, h, w), recent_low (1, 5, 24, 2h, 2w),
                  recent_high (1, 5, 32, h, w)  -> probability (1, 1, H, W)
    sam_encoder   image (1, 3, S, S) SAM-normalised    -> image_embeddings (1, E, S/16, S/16)
    sam_decoder   image_embeddings, point_coords (N, P, 2), point_labels (N, P),
                  mask_input (1, 1, S/4, S/4), has_mask_input (1,) -> logits (N, 1, 256, 256)
E is 256, plus the packed stride-4 features of a model with fine_dim (models/samihs/
fine_features.py). Named dims (N, P) are dynamic; the rest are fixed by the bundle's sizes. The
stream encodes one frame at a time, and with every dim of the frame encoder fixed ONNX Runtime
folds its TensorFlow-style padding into constants and fuses it into the convolutions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from models.pns_plus import CLIP_FRAMES, FrameEncoder, PNSPlus, TemporalHead
from models.samihs import SAMIHS

from .fusable import with_fusable_activations
from .wrappers import SamImageEncoder, SamPromptDecoder

OPSET = 18
Shape = tuple[int | str, ...]


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: Shape  # ints, or names of dynamic dims

    def example(self, sizes: dict[str, int]) -> tuple[int, ...]:
        return tuple(sizes[d] if isinstance(d, str) else d for d in self.shape)

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": "float32"}


@dataclass(frozen=True)
class GraphSpec:
    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        axes: dict[str, dict[int, str]] = {}
        for tensor in (*self.inputs, *self.outputs):
            named = {i: d for i, d in enumerate(tensor.shape) if isinstance(d, str)}
            if named:
                axes[tensor.name] = named
        return axes

    def to_dict(self) -> dict:
        return {
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
        }


def graph_specs(pns: PNSPlus, samihs: SAMIHS) -> dict[str, GraphSpec]:
    """The specs of the four graphs for these models' sizes."""
    height, width = pns.input_size
    h, w = height // 16, width // 16
    size = samihs.config.image_size
    grid, channels = samihs.config.embedding_size, samihs.config.embedding_channels
    t = CLIP_FRAMES
    specs = [
        GraphSpec(
            "pns_encoder",
            (TensorSpec("frame", (1, 3, height, width)),),
            (TensorSpec("low", (1, 24, 2 * h, 2 * w)), TensorSpec("high", (1, 32, h, w))),
        ),
        GraphSpec(
            "pns_temporal",
            (
                TensorSpec("anchor_high", (1, 32, h, w)),
                TensorSpec("recent_low", (1, t, 24, 2 * h, 2 * w)),
                TensorSpec("recent_high", (1, t, 32, h, w)),
            ),
            (TensorSpec("probability", (1, 1, height, width)),),
        ),
        GraphSpec(
            "sam_encoder",
            (TensorSpec("image", (1, 3, size, size)),),
            (TensorSpec("image_embeddings", (1, channels, grid, grid)),),
        ),
        GraphSpec(
            "sam_decoder",
            (
                TensorSpec("image_embeddings", (1, channels, grid, grid)),
                TensorSpec("point_coords", ("N", "P", 2)),
                TensorSpec("point_labels", ("N", "P")),
                TensorSpec("mask_input", (1, 1, 4 * grid, 4 * grid)),
                TensorSpec("has_mask_input", (1,)),
            ),
            (TensorSpec("logits", ("N", 1, 256, 256)),),
        ),
    ]
    return {spec.name: spec for spec in specs}


def graph_modules(pns: PNSPlus, samihs: SAMIHS) -> dict[str, nn.Module]:
    """The export wrappers, by graph name (eval mode; the models' weights, with single-slope
    PReLUs as LeakyReLUs, see fusable.py)."""
    pns, samihs = with_fusable_activations(pns), with_fusable_activations(samihs)
    return {
        "pns_encoder": FrameEncoder(pns).eval(),
        "pns_temporal": TemporalHead(pns).eval(),
        "sam_encoder": SamImageEncoder(samihs).eval(),
        "sam_decoder": SamPromptDecoder(samihs).eval(),
    }


def example_inputs(spec: GraphSpec) -> tuple[torch.Tensor, ...]:
    """Inputs to trace with: N = 2 components with P = 3 points (a point and a box)."""
    sizes = {"N": 2, "P": 3}
    generator = torch.Generator().manual_seed(0)
    inputs = []
    for tensor in spec.inputs:
        shape = tensor.example(sizes)
        if tensor.name == "point_labels":
            inputs.append(torch.tensor([[1.0, 2.0, 3.0]] * sizes["N"]))
        elif tensor.name == "point_coords":
            inputs.append(torch.rand(shape, generator=generator) * 100)
        elif tensor.name == "has_mask_input":
            inputs.append(torch.ones(shape))
        else:
            inputs.append(torch.rand(shape, generator=generator))
    return tuple(inputs)


def export_graph(module: nn.Module, spec: GraphSpec, path: Path) -> None:
    """Traces `module` to ONNX (TorchScript exporter, opset 18) at `path`."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python ints in SAM's code
        torch.onnx.export(
            module,
            example_inputs(spec),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=spec.input_names,
            output_names=spec.output_names,
            dynamic_axes=spec.dynamic_axes() or None,
            do_constant_folding=True,
        )
