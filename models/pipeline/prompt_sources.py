"""The prompt-source stage: where SAM's prompts for a frame come from.

- "pns" (this method, the default): components of the PNS+ map (boxes / points / dense mask per
  the PromptConfig).
- "gt", "gt-point", "gt-box" (oracles, for ablation and validation): each ground-truth
  component's most interior pixel and / or its box; the frame's mask must be given.
- "autosam" (the AutoSAM baseline): a CNN makes SAM's dense prompt from the frame itself.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import torch

from ..autosam import AutoSAMPromptNet, check_compatible, decode_dense
from ..prompts import PromptConfig, Prompts, prompts_from_probability
from ..samihs import SAMIHS
from .runner import Runner
from .sam_prompt import SamPrompt

PROMPT_SOURCES: tuple[str, ...] = ("pns", "autosam", "gt", "gt-point", "gt-box")
ORACLE_SOURCES: tuple[str, ...] = ("gt", "gt-point", "gt-box")


def check_prompt_source(source: str) -> str:
    """The source if known, else ValueError naming the choices."""
    if source not in PROMPT_SOURCES:
        choices = ", ".join(PROMPT_SOURCES)
        raise ValueError(f"prompt source must be one of {choices}, got {source!r}")
    return source


class PromptStage:
    """A prompt source: a probability map for the frame, whose components become the prompts.

    Component boxes are always computed (they are reported); SAM gets them only if `use_box`.
    """

    source: str
    config: PromptConfig = PromptConfig()

    @property
    def uses_pns(self) -> bool:
        """True when the stage prompts from the PNS+ map (the sequence runs the PNS+ step)."""
        return self.source == "pns"

    @property
    def use_box(self) -> bool:
        return self.config.use_box

    def probability(
        self, pns_map: np.ndarray | None, frame_size: tuple[int, int], gt_mask: np.ndarray | None
    ) -> np.ndarray:
        """The map the prompts come from (any size, a resize of the frame)."""
        raise NotImplementedError

    def __call__(
        self,
        pns_map: np.ndarray | None,
        frame_size: tuple[int, int],
        image_size: int,
        gt_mask: np.ndarray | None = None,
    ) -> Prompts:
        """Prompts in SAM's input space (boxes included, see `use_box`)."""
        probability = self.probability(pns_map, frame_size, gt_mask)
        components = replace(self.config, use_box=True)
        return prompts_from_probability(probability, frame_size, image_size, components)

    def as_given(self, prompts: Prompts) -> Prompts:
        """The prompts as SAM received them (no boxes unless `use_box`)."""
        return prompts if self.use_box else replace(prompts, boxes=None)

    def needs_sam(self, prompts: Prompts) -> bool:
        """False when there is nothing to prompt: SAM is skipped for the frame."""
        return not prompts.empty

    def decode(
        self, runner: Runner, image: torch.Tensor, embeddings: torch.Tensor, prompts: Prompts
    ) -> torch.Tensor:
        """SAM's decoder once per component on the shared embeddings, joined by a pixel-wise
        max: logits (1, 1, 256, 256)."""
        prompt = SamPrompt.from_prompts(prompts, runner.device, self.use_box)
        return runner.decode(embeddings, prompt).amax(dim=0, keepdim=True)


class MapPrompts(PromptStage):
    """Prompts from the PNS+ map ("pns") or from an oracle map of the GT mask."""

    def __init__(self, source: str, config: PromptConfig) -> None:
        self.source = check_prompt_source(source)
        if source == "autosam":
            raise ValueError("prompt source autosam is AutoSamPrompts (it needs its network)")
        if source == "pns":
            if not (config.use_box or config.use_point or config.use_mask):
                raise ValueError(
                    "the prompt policy must use at least one of box, point, mask prompt"
                )
            self.config = config
        else:
            self.config = PromptConfig(
                threshold=0.25,
                max_components=config.max_components,
                min_area=1,
                use_box=source in ("gt", "gt-box"),
                use_point=source in ("gt", "gt-point"),
                use_mask=False,
            )

    def probability(
        self, pns_map: np.ndarray | None, frame_size: tuple[int, int], gt_mask: np.ndarray | None
    ) -> np.ndarray:
        if self.uses_pns:
            assert pns_map is not None
            return pns_map
        if gt_mask is None or gt_mask.shape[:2] != frame_size:
            got = "none" if gt_mask is None else str(tuple(gt_mask.shape))
            raise ValueError(
                f"prompt source {self.source} needs the frame's GT mask {frame_size}, got {got}"
            )
        return oracle_probability(gt_mask)


class AutoSamPrompts(PromptStage):
    """AutoSAM: SAM decodes the dense prompt a CNN makes from the frame (no sparse prompt, no
    component: the prompts are empty, yet SAM runs)."""

    source = "autosam"

    def __init__(self, network: AutoSAMPromptNet, samihs: SAMIHS) -> None:
        check_compatible(samihs, network)
        self.network = network.eval()
        self.samihs = samihs

    def probability(
        self, pns_map: np.ndarray | None, frame_size: tuple[int, int], gt_mask: np.ndarray | None
    ) -> np.ndarray:
        return np.zeros((1, 1), np.float32)

    def needs_sam(self, prompts: Prompts) -> bool:
        return True

    @torch.inference_mode()
    def decode(
        self, runner: Runner, image: torch.Tensor, embeddings: torch.Tensor, prompts: Prompts
    ) -> torch.Tensor:
        """The network's dense prompt for the SAM-normalised image (PyTorch only)."""
        return decode_dense(self.samihs, embeddings, self.network(image))


def oracle_probability(mask: np.ndarray) -> np.ndarray:
    """(H, W) mask -> (H, W) float32 map: 0 off the mask, 0.5..1 on it rising with the distance
    to the mask's edge, so a component's peak is its most interior pixel."""
    inside = (np.asarray(mask) > 0).astype(np.uint8)
    if not inside.any():
        return np.zeros(inside.shape, np.float32)
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    return np.where(inside > 0, 0.5 + 0.5 * distance / distance.max(), 0.0).astype(np.float32)
