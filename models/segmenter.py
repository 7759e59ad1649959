"""PolypSegmenter: PNS+ (temporal context) -> prompts -> SAMIHS -> a mask in the frame's size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from .pns_plus import PNSPlus, StreamingPNS, frame_to_input
from .prompts import PromptConfig, Prompts, prompts_from_probability
from .samihs import SAMIHS, logits_to_frame, preprocess_frame


@dataclass(frozen=True)
class Segmentation:
    """The result for one frame.

    probability: (H, W) float32 polyp probability in the frame (SAM's sigmoid; zeros when no
      prompt passed and SAM was skipped).
    mask: (H, W) bool, probability > 0.5.
    prompts: the prompts SAM received, in frame coordinates (`.empty` when SAM was skipped).
    pns_probability: (Hm, Wm) float32 PNS+ map of this frame (256x448 by default).
    """

    probability: np.ndarray
    mask: np.ndarray
    prompts: Prompts
    pns_probability: np.ndarray

    @property
    def polyp_present(self) -> bool:
        return bool(self.mask.any())

    @property
    def sam_ran(self) -> bool:
        return not self.prompts.empty


class PolypSegmenter:
    """Causal frame-by-frame segmentation of a video stream.

    Each call takes the newest frame; PNS+ sees the stream's anchor and the last 5 frames
    (StreamingPNS), its map gives SAM's prompts (boxes / points / dense mask per `prompt_config`),
    and SAMIHS segments once per connected component, the masks joined by a pixel-wise max.
    Frames without a component above the threshold skip SAM.
    """

    def __init__(
        self,
        pns: PNSPlus,
        samihs: SAMIHS,
        prompt_config: PromptConfig | None = None,
        channel_order: Literal["RGB", "BGR"] = "BGR",
    ) -> None:
        self.prompt_config = prompt_config or PromptConfig()
        config = self.prompt_config
        if not (config.use_box or config.use_point or config.use_mask):
            raise ValueError("the prompt policy must use at least one of box, point, mask prompt")
        self.pns = StreamingPNS(pns)
        self.samihs = samihs.eval()
        self.channel_order = channel_order

    def reset(self) -> None:
        """Starts a new stream (new source or a cut): the next frame becomes the anchor."""
        self.pns.reset()

    @torch.inference_mode()
    def __call__(self, frame: np.ndarray) -> Segmentation:
        """Segments the newest frame (H, W, 3) uint8 of the stream."""
        device = next(self.samihs.parameters()).device
        pns_input = frame_to_input(
            frame, self.pns.model.input_size, bgr=self.channel_order == "BGR"
        )
        pns_probability = self.pns.push(pns_input.to(device))[0, 0].float().cpu().numpy()
        frame_size = (frame.shape[0], frame.shape[1])
        image_size = self.samihs.config.image_size
        prompts = prompts_from_probability(
            pns_probability, frame_size, image_size, self.prompt_config
        )
        if prompts.empty:
            probability = np.zeros(frame_size, np.float32)
        else:
            image, geometry = preprocess_frame(frame, image_size, self.channel_order, device)
            logits = self._segment_components(image, prompts, device)
            probability = logits_to_frame(logits, geometry)[0, 0].sigmoid().float().cpu().numpy()
        return Segmentation(
            probability=probability,
            mask=probability > 0.5,
            prompts=prompts.to_frame(),
            pns_probability=pns_probability,
        )

    def _segment_components(
        self, image: torch.Tensor, prompts: Prompts, device: torch.device
    ) -> torch.Tensor:
        """One SAM decode per component on a shared image embedding; (1, 1, 256, 256) logits."""
        count = len(prompts)
        embedding = self.samihs.image_encoder(image).expand(count, -1, -1, -1)
        boxes, points = prompts.as_pixel_indices()
        box_tensor = point_prompt = mask_prompt = None
        if boxes is not None:
            box_tensor = torch.tensor(boxes, device=device)
        if points is not None:
            coords = torch.tensor(points, device=device).unsqueeze(1)
            labels = torch.tensor(prompts.point_labels, device=device).unsqueeze(1)
            point_prompt = (coords, labels)
        if prompts.mask_logits is not None:
            mask = torch.tensor(prompts.mask_logits, device=device)
            mask_prompt = mask.expand(count, 1, -1, -1)
        logits = self.samihs.decode(embedding, box_tensor, point_prompt, mask_prompt)
        return logits.amax(dim=0, keepdim=True)
