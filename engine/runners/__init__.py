"""Back ends behind one interface, and `create_runner(bundle, backend)`.

Back ends: torch-cpu, torch-cuda, torch-cuda-fp16, onnxruntime-cpu, onnxruntime-cpu-int8 (the
encoders in int8, calibrated on the bundle's calibration/ frames; engine/export/int8.py),
onnxruntime-cuda, onnxruntime-cuda-fp16, tensorrt-fp16, tensorrt-fp32. Short names: torch,
onnxruntime, tensorrt.
"auto" picks TensorRT > PyTorch CUDA fp16 by what is installed and present; on a CPU,
create_runner measures ONNX Runtime int8 (bundles with calibration frames), ONNX Runtime fp32 and
PyTorch once per bundle and machine (engine/auto_backend.py), and resolve_backend("auto") names
ONNX Runtime fp32, the choice before measuring.
"""

from __future__ import annotations

import sys

import torch

from models.pipeline.bundle import ModelBundle
from models.pipeline.runner import Runner

BACKENDS = (
    "torch-cpu",
    "torch-cuda",
    "torch-cuda-fp16",
    "onnxruntime-cpu",
    "onnxruntime-cpu-int8",
    "onnxruntime-cuda",
    "onnxruntime-cuda-fp16",
    "tensorrt-fp16",
    "tensorrt-fp32",
)
ALIASES = ("auto", "torch", "onnxruntime", "tensorrt")


def _ort_has_cuda() -> bool:
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def resolve_backend(backend: str) -> str:
    """The concrete back end for a name or alias (ValueError naming the choices if unknown)."""
    if backend in BACKENDS:
        return backend
    if backend not in ALIASES:
        raise ValueError(
            f"unknown back end {backend!r}; choose one of {', '.join((*ALIASES, *BACKENDS))}"
        )
    cuda = torch.cuda.is_available()
    if backend == "torch":
        return "torch-cuda-fp16" if cuda else "torch-cpu"
    if backend == "onnxruntime":
        return "onnxruntime-cuda-fp16" if cuda and _ort_has_cuda() else "onnxruntime-cpu"
    if backend == "tensorrt":
        return "tensorrt-fp16"
    from ..tensorrt import tensorrt_available

    if tensorrt_available():
        return "tensorrt-fp16"
    return "torch-cuda-fp16" if cuda else "onnxruntime-cpu"


def create_runner(
    bundle: ModelBundle, backend: str = "auto", max_components: int = 3, **options
) -> Runner:
    """A runner for `bundle` on `backend`; ONNX graphs are exported (and cached) when needed.

    options: `threads` for ONNX Runtime, `compile_mode` and `cuda_graphs` for torch,
    `strongly_typed` for TensorRT.
    """
    if backend == "auto" and not torch.cuda.is_available():
        from ..auto_backend import choose_cpu_backend

        backend = choose_cpu_backend(bundle, options.get("threads")).backend
    name = resolve_backend(backend)
    family, _, rest = name.partition("-")
    device = "cuda" if rest.startswith("cuda") or family == "tensorrt" else "cpu"
    fp16 = name.endswith("fp16")
    int8 = name.endswith("int8")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"back end {name} needs a CUDA GPU and none is available here; "
                           "use --backend onnxruntime-cpu or auto")
    if family == "torch":
        from .torch_runner import bundle_torch_runner

        return bundle_torch_runner(bundle, device, fp16, options.get("compile_mode"),
                                   bool(options.get("cuda_graphs")))
    from ..export.exporter import cache_root, ensure_graphs

    precision = "fp16" if fp16 else "int8" if int8 else "fp32"
    if family == "onnxruntime":
        from .onnx_runner import OnnxRunner

        manifest = ensure_graphs(bundle, precision)
        runner = OnnxRunner(manifest, device, precision, options.get("threads"))
        if int8:
            from ..export.int8 import has_int8_dot_product

            if not has_int8_dot_product():  # said once the graphs exist (errors come first)
                print(f"warning: {name} on a CPU without an 8-bit dot product (VNNI, Arm "
                      "dotprod): its masks may be less accurate here; onnxruntime-cpu is exact",
                      file=sys.stderr, flush=True)
        return runner
    from ..tensorrt import import_tensorrt
    from .tensorrt_runner import TensorRTRunner

    import_tensorrt()  # fail fast, before exporting graphs, when TensorRT is absent
    manifest = ensure_graphs(bundle, "fp16")
    return TensorRTRunner(manifest, cache_root() / "tensorrt" / bundle.key, device, precision,
                          max_components, options.get("strongly_typed"))


__all__ = ["ALIASES", "BACKENDS", "Runner", "create_runner", "resolve_backend"]
