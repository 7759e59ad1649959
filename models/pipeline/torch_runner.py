"""PyTorch back end: eager fp32 on CPU or CUDA, or CUDA fp16 (autocast, optional torch.compile).

fp16 uses autocast, which keeps LayerNorm and softmax in fp32; convolution and linear weights are
stored in fp16 ahead of time so autocast does not re-cast them per frame.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..pns_plus import FrameFeatures, PNSPlus
from ..samihs import SAMIHS
from .runner import Runner
from .sam_prompt import SamPrompt

_HALF_MODULES = (nn.Conv2d, nn.Linear, nn.ConvTranspose2d)


class TorchRunner(Runner):
    """Runs the given modules where they are (the very same objects, no copy), in eval mode.

    Either network may be None when the prompt source does not need it (oracle prompts need no
    PNS+; a PNS+-only stream needs no SAM).
    """

    def __init__(
        self,
        pns: PNSPlus | None,
        samihs: SAMIHS | None,
        fp16: bool = False,
        compile_mode: str | None = None,
    ) -> None:
        reference = next(m for m in (samihs, pns) if m is not None)
        self.device = next(reference.parameters()).device
        if fp16 and self.device.type != "cuda":
            raise ValueError("fp16 needs a CUDA device; on CPU use fp32 (--backend torch-cpu)")
        self.fp16 = fp16
        if fp16:
            for network in (pns, samihs):
                for module in network.modules() if network is not None else ():
                    if isinstance(module, _HALF_MODULES):
                        module.half()
        self.pns = pns.eval() if pns is not None else None
        self.samihs = samihs.eval() if samihs is not None else None
        self.mask_size = samihs.mask_input_size if samihs is not None else 0
        self._encode_frame = pns.encode_frame if pns is not None else None
        self._encode_image = samihs.image_encoder if samihs is not None else None
        if compile_mode is not None:
            if pns is not None:
                self._encode_frame = torch.compile(pns.encode_frame, mode=compile_mode)
            if samihs is not None:
                self._encode_image = torch.compile(samihs.image_encoder, mode=compile_mode)
        suffix = "-fp16" if fp16 else ""
        self.name = f"torch-{self.device.type}{suffix}"

    def precision_context(self) -> contextlib.AbstractContextManager:
        """autocast to fp16 for the fp16 runner, nothing otherwise."""
        if self.fp16:
            return torch.autocast(self.device.type, dtype=torch.float16)
        return contextlib.nullcontext()

    @torch.inference_mode()
    def encode_frame(self, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._encode_frame is None:
            raise ValueError("this runner has no PNS+ network; give the frame's saved PNS+ map")
        with self.precision_context():
            features = self._encode_frame(frame)
        return self._full(features.low), self._full(features.high)

    @torch.inference_mode()
    def temporal_head(
        self, anchor_high: torch.Tensor, recent_low: torch.Tensor, recent_high: torch.Tensor
    ) -> torch.Tensor:
        with self.precision_context():
            recent = FrameFeatures(recent_low, recent_high)
            probability = self.pns.temporal_head(anchor_high, recent)
        return self._full(probability)

    @torch.inference_mode()
    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        with self.precision_context():
            return self._full(self._encode_image(image))

    @torch.inference_mode()
    def decode(self, image_embeddings: torch.Tensor, prompt: SamPrompt) -> torch.Tensor:
        embeddings = image_embeddings.expand(prompt.count, -1, -1, -1)
        points = None if prompt.points is None else (prompt.points, prompt.labels)
        mask = None if prompt.mask is None else prompt.mask.expand(prompt.count, 1, -1, -1)
        with self.precision_context():
            return self._full(self.samihs.decode(embeddings, prompt.boxes, points, mask))

    def _full(self, tensor: torch.Tensor) -> torch.Tensor:
        """fp16 outputs as float32; other precisions (a float64 check) as they are."""
        return tensor.float() if tensor.dtype == torch.float16 else tensor
