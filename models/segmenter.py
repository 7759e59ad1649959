"""PolypSegmenter: PNS+ (temporal context) -> prompts -> SAMIHS -> a mask in the frame's size.

The prompt source is a setting: "pns" (this method, the default), "autosam" (the AutoSAM
baseline: a CNN makes SAM's dense prompt from the frame), or the oracles "gt-point" / "gt-box"
(prompts from the ground-truth mask, for ablation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import torch

from .autosam import AutoSAMPromptNet, check_compatible, decode_dense
from .pns_plus import PNSPlus, StreamingPNS, frame_to_input
from .prompts import PromptConfig, Prompts, prompts_from_probability
from .samihs import SAMIHS, preprocess_frame, probability_in_frame

PromptSource = Literal["pns", "autosam", "gt-point", "gt-box"]
PROMPT_SOURCES: tuple[str, ...] = ("pns", "autosam", "gt-point", "gt-box")


@dataclass(frozen=True)
class Segmentation:
    """The result for one frame.

    probability: (H, W) float32 polyp probability in the frame (SAM's sigmoid; zeros when no
      prompt passed and SAM was skipped).
    mask: (H, W) bool, probability > 0.5.
    prompts: the prompts SAM received, in frame coordinates (`.empty` when SAM was skipped, and
      always with source "autosam", whose prompt is dense and internal).
    pns_probability: (Hm, Wm) float32 PNS+ map of this frame (256x448 by default); (0, 0) when
      the prompt source is not "pns".
    source: the prompt source that produced it.
    """

    probability: np.ndarray
    mask: np.ndarray
    prompts: Prompts
    pns_probability: np.ndarray
    source: str = "pns"

    @property
    def polyp_present(self) -> bool:
        return bool(self.mask.any())

    @property
    def sam_ran(self) -> bool:
        return self.source == "autosam" or not self.prompts.empty


class PolypSegmenter:
    """Causal frame-by-frame segmentation of a video stream.

    Each call takes the newest frame; PNS+ sees the stream's anchor and the last 5 frames
    (StreamingPNS), its map gives SAM's prompts (boxes / points / dense mask per `prompt_config`),
    and SAMIHS segments once per connected component, the masks joined by a pixel-wise max.
    Frames without a component above the threshold skip SAM.

    prompt_source "autosam" needs `autosam` (a prompt network built for this SAMIHS) and runs
    SAM on every frame; "gt-point" / "gt-box" need the frame's mask in every call and prompt
    each GT component with its most interior pixel / its box. `pns` may be None for those.
    """

    def __init__(
        self,
        pns: PNSPlus | None,
        samihs: SAMIHS,
        prompt_config: PromptConfig | None = None,
        channel_order: Literal["RGB", "BGR"] = "BGR",
        *,
        prompt_source: PromptSource = "pns",
        autosam: AutoSAMPromptNet | None = None,
    ) -> None:
        self.prompt_config = prompt_config or PromptConfig()
        config = self.prompt_config
        if not (config.use_box or config.use_point or config.use_mask):
            raise ValueError("the prompt policy must use at least one of box, point, mask prompt")
        if prompt_source not in PROMPT_SOURCES:
            raise ValueError(
                f"prompt_source must be one of {', '.join(PROMPT_SOURCES)}, got {prompt_source!r}"
            )
        if prompt_source == "pns" and pns is None:
            raise ValueError("prompt_source 'pns' needs a PNS+ model")
        if prompt_source == "autosam" and autosam is None:
            raise ValueError("prompt_source 'autosam' needs an AutoSAM prompt network (autosam=)")
        self.prompt_source = prompt_source
        self.pns = StreamingPNS(pns) if pns is not None else None
        self.samihs = samihs.eval()
        if autosam is not None:
            check_compatible(samihs, autosam)
            autosam.eval()
        self.autosam = autosam
        self.channel_order = channel_order

    def reset(self) -> None:
        """Starts a new stream (new source or a cut): the next frame becomes the anchor."""
        if self.pns is not None:
            self.pns.reset()

    @torch.inference_mode()
    def __call__(self, frame: np.ndarray, gt_mask: np.ndarray | None = None) -> Segmentation:
        """Segments the newest frame (H, W, 3) uint8 of the stream; `gt_mask` (H, W), nonzero =
        polyp, is needed (only) by the oracle sources gt-point / gt-box."""
        device = next(self.samihs.parameters()).device
        frame_size = (frame.shape[0], frame.shape[1])
        image_size = self.samihs.config.image_size
        if self.prompt_source == "autosam":
            return self._autosam(frame, device)
        if self.prompt_source == "pns":
            assert self.pns is not None
            pns_input = frame_to_input(
                frame, self.pns.model.input_size, bgr=self.channel_order == "BGR"
            )
            pns_probability = self.pns.push(pns_input.to(device))[0, 0].float().cpu().numpy()
            prompts = prompts_from_probability(
                pns_probability, frame_size, image_size, self.prompt_config
            )
        else:
            pns_probability = np.zeros((0, 0), np.float32)
            prompts = self._oracle_prompts(gt_mask, frame_size, image_size)
        if prompts.empty:
            probability = np.zeros(frame_size, np.float32)
        else:
            image, geometry = preprocess_frame(frame, image_size, self.channel_order, device)
            logits = self._segment_components(image, prompts, device)
            probability = probability_in_frame(logits, geometry)
        return Segmentation(
            probability=probability,
            mask=probability > 0.5,
            prompts=prompts.to_frame(),
            pns_probability=pns_probability,
            source=self.prompt_source,
        )

    def _oracle_prompts(
        self, gt_mask: np.ndarray | None, frame_size: tuple[int, int], image_size: int
    ) -> Prompts:
        """Oracle prompts: one box or one point per GT component (largest first)."""
        if gt_mask is None or gt_mask.shape[:2] != frame_size:
            got = "none" if gt_mask is None else str(tuple(gt_mask.shape))
            raise ValueError(
                f"prompt source {self.prompt_source} needs the frame's GT mask {frame_size}, "
                f"got {got}"
            )
        config = PromptConfig(
            threshold=0.25,
            max_components=self.prompt_config.max_components,
            min_area=1,
            use_box=self.prompt_source == "gt-box",
            use_point=self.prompt_source == "gt-point",
            use_mask=False,
        )
        return prompts_from_probability(oracle_probability(gt_mask), frame_size, image_size, config)

    def _autosam(self, frame: np.ndarray, device: torch.device) -> Segmentation:
        assert self.autosam is not None
        image, geometry = preprocess_frame(
            frame, self.samihs.config.image_size, self.channel_order, device
        )
        embedding = self.samihs.image_encoder(image)
        logits = decode_dense(self.samihs, embedding, self.autosam(image))
        probability = probability_in_frame(logits, geometry)
        frame_size = (frame.shape[0], frame.shape[1])
        no_prompts = prompts_from_probability(
            np.zeros((1, 1), np.float32), frame_size, self.samihs.config.image_size
        )
        return Segmentation(
            probability=probability,
            mask=probability > 0.5,
            prompts=no_prompts.to_frame(),
            pns_probability=np.zeros((0, 0), np.float32),
            source="autosam",
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


def oracle_probability(mask: np.ndarray) -> np.ndarray:
    """(H, W) mask -> (H, W) float32 map: 0 off the mask, 0.5..1 on it rising with the distance
    to the mask's edge, so a component's peak is its most interior pixel."""
    inside = (np.asarray(mask) > 0).astype(np.uint8)
    if not inside.any():
        return np.zeros(inside.shape, np.float32)
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    return np.where(inside > 0, 0.5 + 0.5 * distance / distance.max(), 0.0).astype(np.float32)
