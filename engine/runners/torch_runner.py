"""PyTorch back end: eager fp32 on CPU or CUDA, or CUDA fp16 (autocast, optional torch.compile).

fp16 uses autocast, which keeps LayerNorm and softmax in fp32 (REFERENCE section 5); convolution
and linear weights are stored in fp16 ahead of time so autocast does not re-cast them per frame.
"""

from __future__ import annotations

import contextlib
import copy

import torch
from torch import nn

from models.pns_plus import FrameFeatures, PNSPlus
from models.samihs import SAMIHS

from ..bundle import ModelBundle
from ..sam_prompts import SamPrompt
from .base import Runner

_HALF_MODULES = (nn.Conv2d, nn.Linear, nn.ConvTranspose2d)


class TorchRunner(Runner):
    """Runs the bundle's own modules (on CPU: the very same objects, no copy)."""

    def __init__(
        self,
        bundle: ModelBundle,
        device: str | torch.device = "cpu",
        fp16: bool = False,
        compile_mode: str | None = None,
    ) -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("CUDA is not available here; use --backend onnxruntime-cpu or auto")
        if fp16 and self.device.type != "cuda":
            raise ValueError("fp16 needs a CUDA device; on CPU use fp32 (--backend torch-cpu)")
        self.fp16 = fp16
        pns, samihs = bundle.pns, bundle.samihs
        if self.device.type != "cpu":
            pns, samihs = copy.deepcopy(pns).to(self.device), copy.deepcopy(samihs).to(self.device)
        if fp16:
            for module in (*pns.modules(), *samihs.modules()):
                if isinstance(module, _HALF_MODULES):
                    module.half()
        self.pns: PNSPlus = pns.eval()
        self.samihs: SAMIHS = samihs.eval()
        self.mask_size = samihs.mask_input_size
        self._encode_frame = pns.encode_frame
        self._encode_image = samihs.image_encoder
        if compile_mode is not None:
            self._encode_frame = torch.compile(pns.encode_frame, mode=compile_mode)
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
        with self.precision_context():
            features = self._encode_frame(frame)
        return features.low.float(), features.high.float()

    @torch.inference_mode()
    def temporal_head(
        self, anchor_high: torch.Tensor, recent_low: torch.Tensor, recent_high: torch.Tensor
    ) -> torch.Tensor:
        with self.precision_context():
            recent = FrameFeatures(recent_low, recent_high)
            probability = self.pns.temporal_head(anchor_high, recent)
        return probability.float()

    @torch.inference_mode()
    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        with self.precision_context():
            return self._encode_image(image).float()

    @torch.inference_mode()
    def decode(self, image_embeddings: torch.Tensor, prompt: SamPrompt) -> torch.Tensor:
        embeddings = image_embeddings.expand(prompt.count, -1, -1, -1)
        points = None if prompt.points is None else (prompt.points, prompt.labels)
        mask = None if prompt.mask is None else prompt.mask.expand(prompt.count, 1, -1, -1)
        with self.precision_context():
            return self.samihs.decode(embeddings, prompt.boxes, points, mask).float()
