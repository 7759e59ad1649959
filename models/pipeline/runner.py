"""The interface every back end implements: the four networks of a frame as methods on tensors.

All tensors in and out are float32 on `runner.device` (a back end in fp16 casts inside). Keeping
torch tensors at the boundary lets a GPU back end take pre-processed inputs and hand back
outputs without leaving the device. PyTorch runs here (torch_runner.py); ONNX Runtime and
TensorRT live in the engine (engine/runners/).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from .sam_prompt import SamPrompt


class Runner(ABC):
    """PNS+ frame encoder and temporal head, SAM image encoder and prompt decoder."""

    name: str  # e.g. "torch-cpu", "onnxruntime-cpu", "torch-cuda-fp16", "tensorrt-fp16"
    device: torch.device
    mask_size: int  # side of SAM's mask prompt (image_size / 4)
    # PyTorch's CPU threads for the sequence's tensor glue (resize, pad, normalise, mask max)
    # while a frame runs on this runner; None leaves PyTorch's setting alone.
    glue_threads: int | None = None
    # True: encode_image may run on a second thread while the PNS+ graphs run on the caller's
    # (thread-safe across networks, and faster side by side; see pipeline/sam_image_lane.py).
    parallel_sam_image: bool = False

    @abstractmethod
    def encode_frame(self, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """frame (1, 3, H, W) in [0, 1] RGB -> low (1, 24, H/8, W/8), high (1, 32, H/16, W/16)."""

    @abstractmethod
    def temporal_head(
        self, anchor_high: torch.Tensor, recent_low: torch.Tensor, recent_high: torch.Tensor
    ) -> torch.Tensor:
        """anchor (1, 32, h, w), window (1, 5, C, ., .) oldest first -> (1, 1, H, W) probability."""

    @abstractmethod
    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """image (1, 3, S, S) SAM-normalised -> image embeddings (1, 256, S/16, S/16)."""

    @abstractmethod
    def decode(self, image_embeddings: torch.Tensor, prompt: SamPrompt) -> torch.Tensor:
        """Embeddings (1, 256, g, g) and N components' prompts -> logits (N, 1, 256, 256)."""

    def synchronize(self) -> None:
        """Waits for queued device work (for honest per-stage timings on a GPU)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Releases sessions or engines; the runner is unusable afterwards."""
