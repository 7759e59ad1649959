"""TensorRT back end: the four graphs as cached engines, bound to torch CUDA tensors."""

from __future__ import annotations

import torch

from ..export.manifest import GraphManifest
from ..tensorrt import (
    EngineCache,
    Profiles,
    TensorRTError,
    TensorRTGraph,
    TensorRTUnavailable,
    build_engine,
    engine_key,
    import_tensorrt,
    major_version,
)
from .base import GRAPHS, GraphRunner

MAX_POINTS = 3  # a point + the two corners of a box


def profiles_for(manifest: GraphManifest, graph: str, max_components: int = 3) -> Profiles:
    """Optimization profile of `graph`: N components in 1..max, P points in 1..3."""
    ranges = {"N": (1, 1, max_components), "P": (1, MAX_POINTS, MAX_POINTS)}
    profiles: Profiles = {}
    for name, shape in manifest.shapes(graph).items():
        dims = [[d] * 3 if isinstance(d, int) else list(ranges[d]) for d in shape]
        profiles[name] = tuple(tuple(d[i] for d in dims) for i in range(3))  # type: ignore[assignment]
    return profiles


class TensorRTRunner(GraphRunner):
    """Engines built from a manifest's graphs (cached in `cache_dir`) on one CUDA device."""

    def __init__(
        self,
        manifest: GraphManifest,
        cache_dir,
        device: str | torch.device = "cuda",
        precision: str = "fp16",
        max_components: int = 3,
        strongly_typed: bool | None = None,
    ) -> None:
        trt = import_tensorrt()
        self.device = torch.device(device)
        if self.device.type != "cuda" or not torch.cuda.is_available():
            raise TensorRTUnavailable("TensorRT needs a CUDA GPU; use --backend onnxruntime-cpu")
        strongly = major_version(trt) >= 11 if strongly_typed is None else strongly_typed
        cache = EngineCache(cache_dir)
        gpu = torch.cuda.get_device_name(self.device)
        self.graphs: dict[str, TensorRTGraph] = {}
        for graph in GRAPHS:
            parsed = "fp16" if precision == "fp16" and strongly else "fp32"
            source = manifest.path(graph, parsed)
            profiles = profiles_for(manifest, graph, max_components)
            key = engine_key(manifest.sha256(graph, parsed), gpu, trt.__version__, precision,
                             profiles)
            key["strongly_typed"] = strongly

            def build(source=source, profiles=profiles, graph=graph) -> bytes:
                return build_engine(source, profiles, precision, strongly,
                                    manifest.path(graph, "fp32") if not strongly else None)

            self.graphs[graph] = TensorRTGraph(cache.get(graph, key, build), self.device)
        self.mask_size = int(manifest.shapes("sam_decoder")["mask_input"][-1])
        self.name = f"tensorrt-{precision}"

    def check_point_prompts(self, coords: torch.Tensor) -> None:
        if coords.shape[1] == 0:
            raise TensorRTError(
                "the TensorRT back end needs a box or point prompt (mask-only prompts are not "
                "in its profile); enable use_box or use_point, or use --backend torch"
            )

    def close(self) -> None:
        self.graphs.clear()
