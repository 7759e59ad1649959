"""PolypSegmenter: the inference sequence (models.pipeline) on PyTorch modules, as polyp-eval and
training validation use it: PNS+ (temporal context) -> prompts -> SAMIHS -> a mask in the frame.

The prompt source is a setting: "pns" (this method, the default), "autosam" (the AutoSAM
baseline: a CNN makes SAM's dense prompt from the frame), or the oracles "gt", "gt-point",
"gt-box" (prompts from the ground-truth mask, for ablation and validation).
"""

from __future__ import annotations

import numpy as np

from .autosam import AutoSAMPromptNet
from .pipeline import (
    AutoSamPrompts,
    FrameResult,
    InferenceSequence,
    MapPrompts,
    PromptStage,
    TorchRunner,
)
from .pipeline.prompt_sources import check_prompt_source
from .pipeline.smoothing import SmoothingConfig
from .pns_plus import PNSPlus
from .prompts import PromptConfig
from .samihs import SAMIHS


class PolypSegmenter(InferenceSequence):
    """Causal frame-by-frame segmentation with the modules where they are.

    cut_threshold: restart the stream on a scene cut, as the live app does (None: never).
    smoothing: presence hysteresis across frames, as the bundle sets it for the app (None: off).

    prompt_source "autosam" needs `autosam` (a prompt network built for this SAMIHS); the
    oracles need the frame's mask in every call; `pns` may be None for those, and for "pns" with
    `saved_maps` (every call then gets the frame's saved PNS+ map, see `process`).
    """

    def __init__(
        self,
        pns: PNSPlus | None,
        samihs: SAMIHS,
        prompt_config: PromptConfig | None = None,
        channel_order: str = "BGR",
        *,
        prompt_source: str = "pns",
        autosam: AutoSAMPromptNet | None = None,
        saved_maps: bool = False,
        cut_threshold: float | None = None,
        smoothing: SmoothingConfig | None = None,
    ) -> None:
        check_prompt_source(prompt_source)
        if prompt_source == "pns" and pns is None and not saved_maps:
            raise ValueError("prompt_source 'pns' needs a PNS+ model")
        if prompt_source == "autosam":
            if autosam is None:
                raise ValueError(
                    "prompt_source 'autosam' needs an AutoSAM prompt network (autosam=)"
                )
            stage: PromptStage = AutoSamPrompts(autosam, samihs)
        else:
            stage = MapPrompts(prompt_source, prompt_config or PromptConfig())
        pns_size = pns.input_size if pns is not None else (256, 448)
        super().__init__(
            TorchRunner(pns, samihs),
            stage,
            samihs.config.image_size,
            pns_size,
            channel_order,
            cut_threshold,
            smoothing,
        )

    def __call__(self, frame: np.ndarray, gt_mask: np.ndarray | None = None) -> FrameResult:
        return self.process(frame, gt_mask)
