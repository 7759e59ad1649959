"""Exports a bundle's four graphs (fp32, fp16 with fp32 islands, and int8 encoders on request)
with their manifest."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import onnx
import torch

from models.pns_plus import PNSPlus
from models.samihs import SAMIHS
from models.samihs.checkpoint import file_sha256

from ..bundle import ModelBundle
from .fp16 import convert_to_fp16
from .graphs import OPSET, export_graph, graph_modules, graph_specs
from .int8 import FLOAT_LAYERS, QUANTIZED_GRAPHS, calibration_inputs, quantize_graph
from .manifest import DEFAULT_PRECISIONS, GRAPHS_FORMAT, PRECISIONS, GraphManifest, GraphsError

CACHE_ENV = "POLYP_LIVE_CACHE"
# Bumped when the exported graphs change for the same weights; ensure_graphs re-exports older
# ones. 2: PNS+ window attention as one gather (a handful of nodes instead of ~1000 slices).
# 3: the PNS+ frame encoder takes one frame (fixed shapes), single-slope PReLU as LeakyReLU.
# 4: the int8 SAM image encoder keeps its first layers in fp32 (int8.FLOAT_LAYERS).
GRAPHS_REVISION = 4


def export_graphs(
    pns: PNSPlus,
    samihs: SAMIHS,
    out_dir: str | Path,
    precisions: Iterable[str] = DEFAULT_PRECISIONS,
    sources: dict | None = None,
    pns_backbone: str | None = None,
    calibration: dict[str, list] | None = None,
) -> GraphManifest:
    """Writes <out_dir>/{graph}.onnx (+ .fp16.onnx, .int8.onnx) and manifest.json; returns the
    manifest. int8 needs `calibration` (int8.calibration_inputs); its manifest entry for a graph
    that stays fp32 (int8.QUANTIZED_GRAPHS) names the fp32 file."""
    precisions = list(precisions)
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown or not precisions:
        raise GraphsError(f"unknown precision {unknown}; choose from {list(PRECISIONS)}")
    if "int8" in precisions and calibration is None:
        raise GraphsError("int8 graphs need calibration frames (the bundle's calibration/ folder)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    specs, modules = graph_specs(pns, samihs), graph_modules(pns, samihs)
    graphs = {}
    for name, spec in specs.items():
        fp32_path = out_dir / f"{name}.onnx"
        export_graph(modules[name], spec, fp32_path)
        files = {}
        if "fp16" in precisions:
            fp16_path = out_dir / f"{name}.fp16.onnx"
            islands = convert_to_fp16(fp32_path, fp16_path)
            files["fp16"] = {"file": fp16_path.name, "sha256": file_sha256(fp16_path),
                             "fp32_nodes": len(islands)}
        fp32_file = {"file": fp32_path.name, "sha256": file_sha256(fp32_path)}
        if "int8" in precisions:
            files["int8"] = fp32_file
            if name in QUANTIZED_GRAPHS:
                assert calibration is not None
                int8_path = out_dir / f"{name}.int8.onnx"
                quantize_graph(fp32_path, int8_path, spec.inputs[0].name, calibration[name],
                               FLOAT_LAYERS.get(name, ()))
                files["int8"] = {"file": int8_path.name, "sha256": file_sha256(int8_path),
                                 "calibration_frames": len(calibration[name])}
        if "fp32" in precisions:
            files["fp32"] = fp32_file
        elif files.get("int8") is not fp32_file:
            fp32_path.unlink()
        graphs[name] = {**spec.to_dict(), "files": files}
    manifest = GraphManifest(out_dir, {
        "format": GRAPHS_FORMAT,
        "opset": OPSET,
        "revision": GRAPHS_REVISION,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "sources": sources or {},
        "models": graph_models(pns, samihs, pns_backbone),
        "graphs": graphs,
    })
    manifest.write()
    return manifest


def graph_models(pns: PNSPlus, samihs: SAMIHS, pns_backbone: str | None) -> dict:
    """What the graphs were exported for beyond the weights: the networks' configs and input
    sizes (a bundle may run its SAM stage at another size than its file's, see bundle.py)."""
    return {
        "samihs": samihs.config.to_dict(),
        "pns_plus": {"backbone": pns_backbone, "input_size": list(pns.input_size)},
    }


def cache_root() -> Path:
    """Where graphs exported on demand go: $POLYP_LIVE_CACHE, else ~/.cache/polyp-live."""
    root = os.environ.get(CACHE_ENV)
    return Path(root) if root else Path.home() / ".cache" / "polyp-live"


def ensure_graphs(bundle: ModelBundle, precision: str = "fp32") -> GraphManifest:
    """The bundle's exported graphs at `precision`: its onnx/ folder when it matches the weight
    files and input sizes, else a cached export keyed by both (exported now if missing)."""
    models = graph_models(bundle.pns, bundle.samihs, bundle.pns_backbone)
    for directory in (bundle.onnx_dir, cache_root() / "onnx" / bundle.key):
        try:
            manifest = GraphManifest.read(directory)
        except GraphsError:
            continue
        matches = (
            manifest.data.get("revision", 1) >= GRAPHS_REVISION
            and manifest.data.get("models") == models
            and all(
                manifest.sources.get(name, {}).get("sha256") == source["sha256"]
                for name, source in bundle.sources.items()
            )
        )
        if matches and all(precision in manifest.precisions(g) for g in manifest.data["graphs"]):
            return manifest
    target = cache_root() / "onnx" / bundle.key
    target.parent.mkdir(parents=True, exist_ok=True)
    # Export beside the target, then move into place: a reader never sees a half-written folder.
    staging = Path(tempfile.mkdtemp(prefix=f".{bundle.key}-", dir=target.parent))
    try:
        precisions = dict.fromkeys((*DEFAULT_PRECISIONS, precision))  # int8 only on request
        calibration = calibration_inputs(bundle) if "int8" in precisions else None
        export_graphs(bundle.pns, bundle.samihs, staging, precisions, bundle.sources,
                      bundle.pns_backbone, calibration)
        shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:  # another process exported the same bundle at the same time
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return GraphManifest.read(target)
