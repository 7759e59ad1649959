"""One fixed-shape call replayed from a CUDA graph (PyTorch's torch.cuda.CUDAGraph).

A graph removes the per-kernel launch cost of eager PyTorch: the whole call is one launch. Its
inputs and outputs live in static buffers: each call copies the inputs in, replays, and returns
clones of the outputs (the next replay overwrites them). Shapes are fixed at capture.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from models.pipeline.torch_runner import TorchRunner

WARMUP_CALLS = 3  # eager calls on a side stream before capture (lazy init, cuDNN autotuning)


class CapturedCall:
    """`fn(*tensors) -> tuple of tensors`, captured on the first call and replayed after."""

    def __init__(self, fn: Callable[..., tuple[torch.Tensor, ...]], name: str) -> None:
        self.fn = fn
        self.name = name
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_inputs: list[torch.Tensor] = []
        self.static_outputs: tuple[torch.Tensor, ...] = ()
        self.constants: dict = {}  # tensors the graph reads that no module owns: kept alive

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.graph is None:
            self._capture(inputs)
        shapes = [tuple(x.shape) for x in inputs]
        expected = [tuple(x.shape) for x in self.static_inputs]
        if shapes != expected:
            raise RuntimeError(f"the CUDA graph of {self.name} was captured for inputs {expected}, "
                               f"got {shapes}; run without --cuda-graphs")
        for static, x in zip(self.static_inputs, inputs, strict=True):
            static.copy_(x)
        self.graph.replay()
        return tuple(out.clone() for out in self.static_outputs)

    def _capture(self, inputs: tuple[torch.Tensor, ...]) -> None:
        device = inputs[0].device
        if device.type != "cuda":
            raise ValueError(f"CUDA graphs need CUDA tensors, {self.name} got {device}; run "
                             "without --cuda-graphs")
        self.static_inputs = [x.detach().clone() for x in inputs]
        graph = torch.cuda.CUDAGraph()
        try:
            with constant_sam_rel_pos(self.constants):
                side = torch.cuda.Stream(device)
                side.wait_stream(torch.cuda.current_stream(device))
                with torch.cuda.stream(side):
                    for _ in range(WARMUP_CALLS):
                        self.fn(*self.static_inputs)
                torch.cuda.current_stream(device).wait_stream(side)
                # thread_local: CUDA calls of other threads (display, recorder) do not break it.
                with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                    outputs = self.fn(*self.static_inputs)
        except RuntimeError as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise RuntimeError(f"CUDA graph capture of {self.name} failed ({reason}); run "
                               "without --cuda-graphs") from None
        self.static_outputs = tuple(outputs)
        self.graph = graph


@contextlib.contextmanager
def constant_sam_rel_pos(store: dict) -> Iterator[None]:
    """SAM's get_rel_pos indexes the relative-position table with index tensors it builds on the
    CPU at every call; the copy to the GPU is not allowed while a graph is captured. Meanwhile
    it returns the table computed at the first (warm-up) call, which is the same for fixed
    weights; `store` keeps those tensors alive for the graph's replays."""
    from segment_anything.modeling import image_encoder as sam_image_encoder

    original = sam_image_encoder.get_rel_pos

    def computed_once(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
        key = (q_size, k_size, rel_pos.data_ptr(), rel_pos.dtype)
        if key not in store:
            store[key] = original(q_size, k_size, rel_pos)
        return store[key]

    sam_image_encoder.get_rel_pos = computed_once
    try:
        yield
    finally:
        sam_image_encoder.get_rel_pos = original


class CudaGraphRunner(TorchRunner):
    """A TorchRunner whose fixed-shape calls (PNS+ frame encoder and temporal head, SAM image
    encoder) replay CUDA graphs; SAM's prompt decoder stays eager (its prompt count varies)."""

    def __init__(self, pns, samihs, fp16: bool = False) -> None:
        super().__init__(pns, samihs, fp16)
        self.name += "+cudagraphs"
        eager = super()
        self._captured = {
            "encode_frame": CapturedCall(
                lambda frame: tuple(eager.encode_frame(frame)), "the PNS+ frame encoder"
            ),
            "temporal_head": CapturedCall(
                lambda *features: (eager.temporal_head(*features),), "the PNS+ temporal head"
            ),
            "encode_image": CapturedCall(
                lambda image: (eager.encode_image(image),), "the SAM image encoder"
            ),
        }

    def precision_context(self) -> contextlib.AbstractContextManager:
        # No autocast cast cache: a graph must not point at casts freed after capture.
        if self.fp16:
            return torch.autocast(self.device.type, dtype=torch.float16, cache_enabled=False)
        return contextlib.nullcontext()

    @torch.inference_mode()
    def encode_frame(self, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low, high = self._captured["encode_frame"](frame)
        return low, high

    @torch.inference_mode()
    def temporal_head(
        self, anchor_high: torch.Tensor, recent_low: torch.Tensor, recent_high: torch.Tensor
    ) -> torch.Tensor:
        return self._captured["temporal_head"](anchor_high, recent_low, recent_high)[0]

    @torch.inference_mode()
    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        return self._captured["encode_image"](image)[0]
