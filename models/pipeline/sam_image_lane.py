"""SAM's image step (preprocess + image encoder) on a second thread, beside the PNS+ step.

The SAM image encoder does not depend on PNS+: only the decision to run SAM does. On a small CPU
neither network uses both cores well on its own (ONNX Runtime's second thread adds about 1.3x
for the PNS+ encoder), so starting the SAM encoder before the PNS+ step and running the two side
by side takes several milliseconds off a frame with a polyp in view, with identical outputs (the
same graphs on the same inputs). The sequence starts it only while a polyp is in view (the
previous frame had prompts), so frames of plain mucosa cost no extra CPU.
"""

from __future__ import annotations

import weakref
from concurrent.futures import Future, ThreadPoolExecutor

import torch

from ..samihs import FrameGeometry
from .preprocess import FramePreprocessor
from .runner import Runner

SamImage = tuple[torch.Tensor, FrameGeometry, torch.Tensor]  # image, geometry, embeddings


class SamImageLane:
    """One worker thread that preprocesses the current frame for SAM and encodes it."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._pool: ThreadPoolExecutor | None = None

    def start(self, preprocessor: FramePreprocessor) -> Future[SamImage]:
        """Starts SAM's image step for the preprocessor's current frame; the caller must take
        the result (or wait for it) before the next frame is started."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="sam-image")
            weakref.finalize(self, self._pool.shutdown, wait=False)
        return self._pool.submit(self._encode, preprocessor)

    def _encode(self, preprocessor: FramePreprocessor) -> SamImage:
        # Inference mode is per thread: the caller's does not reach this one.
        with torch.inference_mode():
            image, geometry = preprocessor.sam_input()
            return image, geometry, self.runner.encode_image(image)
