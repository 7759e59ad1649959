"""The PyTorch back end for a bundle: its networks on the chosen device, run by
models.pipeline.TorchRunner (on CPU the bundle's very own modules, no copy), optionally with
CUDA graphs (engine/runners/cuda_graphs.py)."""

from __future__ import annotations

import copy

import torch

from models.pipeline.bundle import ModelBundle
from models.pipeline.torch_runner import TorchRunner


def bundle_torch_runner(
    bundle: ModelBundle,
    device: str | torch.device = "cpu",
    fp16: bool = False,
    compile_mode: str | None = None,
    cuda_graphs: bool = False,
) -> TorchRunner:
    """A TorchRunner over the bundle's networks, copied to `device` unless that is the CPU."""
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CUDA is not available here; use --backend onnxruntime-cpu or auto")
    if fp16 and device.type != "cuda":
        raise ValueError("fp16 needs a CUDA device; on CPU use fp32 (--backend torch-cpu)")
    if cuda_graphs and device.type != "cuda":
        raise ValueError("CUDA graphs need a CUDA back end (torch-cuda or torch-cuda-fp16); "
                         "drop --cuda-graphs on the CPU")
    if cuda_graphs and compile_mode is not None:
        raise ValueError("choose one of --cuda-graphs and --compile (compile's "
                         "reduce-overhead mode uses CUDA graphs itself)")
    pns, samihs = bundle.pns, bundle.samihs
    if device.type != "cpu":
        pns, samihs = copy.deepcopy(pns).to(device), copy.deepcopy(samihs).to(device)
    if cuda_graphs:
        from .cuda_graphs import CudaGraphRunner

        return CudaGraphRunner(pns, samihs, fp16)
    return TorchRunner(pns, samihs, fp16, compile_mode)
