"""The PyTorch back end for a bundle: its networks on the chosen device, run by
models.pipeline.TorchRunner (on CPU the bundle's very own modules, no copy)."""

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
) -> TorchRunner:
    """A TorchRunner over the bundle's networks, copied to `device` unless that is the CPU."""
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CUDA is not available here; use --backend onnxruntime-cpu or auto")
    if fp16 and device.type != "cuda":
        raise ValueError("fp16 needs a CUDA device; on CPU use fp32 (--backend torch-cpu)")
    pns, samihs = bundle.pns, bundle.samihs
    if device.type != "cpu":
        pns, samihs = copy.deepcopy(pns).to(device), copy.deepcopy(samihs).to(device)
    return TorchRunner(pns, samihs, fp16, compile_mode)
