"""Back ends over exported graphs; the Runner interface itself is models.pipeline.runner.

Shapes are those of engine/export/graphs.py.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from models.pipeline.runner import Runner
from models.pipeline.sam_prompt import SamPrompt

from ..sam_prompts import to_point_form

GRAPHS = ("pns_encoder", "pns_temporal", "sam_encoder", "sam_decoder")


class GraphRunner(Runner):
    """A runner over the four exported graphs (ONNX Runtime sessions, TensorRT engines).

    `graphs[name](*inputs, sizes=...)` runs one graph on torch tensors and returns its outputs;
    `sizes` names the dynamic output dims (e.g. {"N": 2}) for back ends that need them.
    SAM's decoder graph takes prompts in point form (see engine/sam_prompts.py).
    """

    graphs: dict[str, Callable[..., list[torch.Tensor]]]

    def encode_frame(self, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low, high = self.graphs["pns_encoder"](frame)
        return low, high

    def temporal_head(
        self, anchor_high: torch.Tensor, recent_low: torch.Tensor, recent_high: torch.Tensor
    ) -> torch.Tensor:
        return self.graphs["pns_temporal"](anchor_high, recent_low, recent_high)[0]

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        return self.graphs["sam_encoder"](image)[0]

    def decode(self, image_embeddings: torch.Tensor, prompt: SamPrompt) -> torch.Tensor:
        coords, labels, mask, has_mask = to_point_form(prompt, self.mask_size, self.device)
        self.check_point_prompts(coords)
        inputs = (image_embeddings, coords, labels, mask, has_mask)
        return self.graphs["sam_decoder"](*inputs, sizes={"N": prompt.count})[0]

    def check_point_prompts(self, coords: torch.Tensor) -> None:  # noqa: B027 - optional hook
        """Raises if this back end cannot take prompts with `coords.shape[1]` points."""
