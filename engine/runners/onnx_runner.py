"""ONNX Runtime back end: the exported graphs on the CPU provider, or the CUDA provider.

On CPU, torch tensors are handed over as numpy views (no copy). On CUDA, inputs and outputs are
bound to torch CUDA tensors with I/O binding, so nothing leaves the GPU.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ..export.manifest import GraphManifest
from .base import GRAPHS, GraphRunner


def session_options(threads: int | None = None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: fp16 graphs warn about constant folding
    # No busy-waiting between runs: on a small CPU the display and recorder threads need it.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    return options


def beside_threads(threads: int | None) -> int:
    """Threads for a graph that runs beside another: half of `threads` (default: the CPUs
    this process may use), at least one."""
    available = threads or len(os.sched_getaffinity(0))
    return max(1, available // 2)


class OnnxGraph:
    """One InferenceSession with torch tensors in and out."""

    def __init__(self, path, device: torch.device, threads: int | None = None) -> None:
        import onnxruntime

        self.device = device
        if device.type == "cuda":
            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                raise RuntimeError(
                    "onnxruntime has no CUDA provider here (install onnxruntime-gpu); use "
                    "--backend onnxruntime-cpu"
                )
            providers = [("CUDAExecutionProvider", {"device_id": device.index or 0}),
                         "CPUExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        self.session = onnxruntime.InferenceSession(
            str(path), sess_options=session_options(threads), providers=providers
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.output_shapes = [o.shape for o in self.session.get_outputs()]

    def __call__(
        self, *inputs: torch.Tensor, sizes: dict[str, int] | None = None
    ) -> list[torch.Tensor]:
        """Runs the graph; `sizes` gives the dynamic output dims (e.g. {"N": 2}) on CUDA."""
        if self.device.type != "cuda":
            feeds = {n: _as_numpy(x) for n, x in zip(self.input_names, inputs, strict=True)}
            return [torch.from_numpy(out) for out in self.session.run(self.output_names, feeds)]
        binding = self.session.io_binding()
        index = self.device.index or 0
        bound = [x.to(self.device, torch.float32).contiguous() for x in inputs]  # kept alive
        for name, tensor in zip(self.input_names, bound, strict=True):
            binding.bind_input(name, "cuda", index, np.float32, tuple(tensor.shape),
                               tensor.data_ptr())
        outputs = []
        for name, shape in zip(self.output_names, self.output_shapes, strict=True):
            concrete = tuple(d if isinstance(d, int) else (sizes or {})[d] for d in shape)
            out = torch.empty(concrete, dtype=torch.float32, device=self.device)
            binding.bind_output(name, "cuda", index, np.float32, concrete, out.data_ptr())
            outputs.append(out)
        # ONNX Runtime works on its own CUDA stream: the inputs must be ready before it starts.
        torch.cuda.current_stream(self.device).synchronize()
        self.session.run_with_iobinding(binding)
        return outputs


def _as_numpy(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().float().numpy())


class OnnxRunner(GraphRunner):
    """The four graphs of a manifest, at one precision, on one provider."""

    def __init__(
        self,
        manifest: GraphManifest,
        device: str | torch.device = "cpu",
        precision: str = "fp32",
        threads: int | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.precision = precision
        # On a CPU the SAM image encoder runs beside the PNS+ graphs (InferenceSequence), on
        # part of the cores: neither network alone keeps every core busy.
        self.parallel_sam_image = self.device.type == "cpu"
        lane_threads = beside_threads(threads) if self.parallel_sam_image else threads
        self.graphs = {
            name: OnnxGraph(
                manifest.path(name, precision),
                self.device,
                lane_threads if name == "sam_encoder" else threads,
            )
            for name in GRAPHS
        }
        self.mask_size = int(manifest.shapes("sam_decoder")["mask_input"][-1])
        # The networks run in ONNX Runtime's own threads; PyTorch only does small glue ops.
        # Spread over two OpenMP threads those stall whenever another thread of the app holds a
        # core (each op waits at a barrier for a descheduled worker); one thread does not.
        self.glue_threads = 1 if self.device.type == "cpu" else None
        suffix = "" if precision == "fp32" else f"-{precision}"
        self.name = f"onnxruntime-{self.device.type}{suffix}"

    def close(self) -> None:
        self.graphs.clear()
