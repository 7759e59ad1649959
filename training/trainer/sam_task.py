"""SAMIHS fine-tuning as published: frames + prompts, BCE + boundary DoU on the
256x256 logits; weights saved as trainable tensors (on top of SAM) or, from scratch, in full."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from models.pipeline import PROMPT_SOURCES
from models.prompts import PromptConfig
from models.samihs import (
    SAMIHS,
    build_samihs,
    load_samihs_weights,
    samihs_config,
    save_samihs_weights,
)
from models.segmenter import PolypSegmenter

from ..config import SamTrainConfig
from ..data.layout import Video
from ..data.sam_frames import SamFrameDataset
from ..data.sam_prompts import PromptSettings
from ..data.sources import load_sources
from ..errors import ConfigError
from ..evaluate.predict import SegmenterPredictor
from ..losses import SegmentationLoss
from .common import build_loss, train_augmentation


def prompt_settings(config: SamTrainConfig) -> PromptSettings:
    """gt-point / gt-box are source gt with only points / only boxes; autosam keeps the gt
    prompt in the samples (unused: its prompt network makes the dense prompt)."""
    prompt = config.prompt
    if prompt.source not in PROMPT_SOURCES:
        raise ConfigError(
            f"prompt.source must be one of {', '.join(PROMPT_SOURCES)}, got {prompt.source!r}"
        )
    if prompt.source in ("gt-point", "gt-box"):
        only_point = prompt.source == "gt-point"
        return PromptSettings("gt", only_point, not only_point, False, prompt.box_jitter)
    if prompt.use_mask and prompt.source != "pns":
        raise ConfigError("prompt.use_mask needs prompt.source: pns (the mask comes from a map)")
    if not (prompt.use_point or prompt.use_box or prompt.use_mask):
        raise ConfigError("set at least one of prompt.use_point, use_box, use_mask")
    try:
        pns = PromptConfig(
            threshold=prompt.threshold,
            max_components=prompt.max_components,
            min_area=prompt.min_area,
            use_box=prompt.use_box,
            use_point=prompt.use_point,
            use_mask=prompt.use_mask,
        )
    except ValueError as error:
        raise ConfigError(f"prompt: {error}") from None
    return PromptSettings(
        prompt.source, prompt.use_point, prompt.use_box, prompt.use_mask, prompt.box_jitter, pns
    )


class SamTask:
    name = "sam"
    find_unused_parameters = True
    # The CNN variants' ImageNet trunk (optim.pretrained_lr_scale applies to it).
    pretrained_prefixes = ("image_encoder.trunk.",)

    def __init__(self, config: SamTrainConfig) -> None:
        self.config = config
        self.settings = prompt_settings(config)
        model = config.model
        if not model.train_all and model.sam_checkpoint is None and model.init_weights is None:
            raise ConfigError(
                "the freeze policy trains only adapters and decoder, so the encoder needs weights:"
                " set model.sam_checkpoint (official SAM .pth) or model.init_weights, or set "
                "model.train_all: true to train from scratch"
            )
        if self.settings.source == "pns":
            for what, sources in (("train", config.data.train), ("val", config.data.val)):
                if any(source.maps is None for source in sources):
                    raise ConfigError(
                        f"prompt.source pns needs `maps: DIR` on every data.{what} "
                        "source (write them with polyp-train pns --predict)"
                    )
        self.loss: SegmentationLoss = build_loss(config.loss, from_logits=True)

    @property
    def weight_contents(self) -> str:
        """ "all" when training from scratch or without a base SAM file to re-apply."""
        model = self.config.model
        return "all" if model.train_all or model.sam_checkpoint is None else "trainable"

    def build_model(self) -> SAMIHS:
        spec = self.config.model
        try:
            model = build_samihs(
                spec.variant,
                spec.image_size,
                spec.adapter_dim,
                spec.sam_checkpoint,
                spec.init_weights,
                window_size=spec.window_size,
                pretrained_backbone=spec.pretrained_backbone,
                fine_dim=spec.fine_dim,
            )
        except ValueError as error:
            if type(error) is not ValueError:
                raise
            raise ConfigError(f"model: {error}") from None
        if spec.train_all:
            for parameter in model.parameters():
                parameter.requires_grad_(True)
        return model

    def train_dataset(self) -> SamFrameDataset:
        data = self.config.data
        augment = train_augmentation(data)
        return SamFrameDataset(
            load_sources(data.train, "train"),
            self._image_size(),
            self.settings,
            train=True,
            augment=augment,
            seed=self.config.run.seed,
        )

    def val_videos(self) -> list[Video]:
        return load_sources(self.config.data.val, "val")

    def compute_loss(self, model: nn.Module, batch: dict, device: torch.device) -> torch.Tensor:
        logits = model(**sam_inputs(batch, self.settings, device))
        return self.loss(logits, batch["target"].to(device))

    def predictor(self, model: nn.Module, device: torch.device) -> SegmenterPredictor:
        """Validation runs the inference sequence the app runs: all components of a saved PNS+
        map (source pns), or the oracle prompts of the GT (gt, gt-point, gt-box)."""
        source = self.config.prompt.source
        segmenter = PolypSegmenter(
            None, model, self.settings.pns, prompt_source=source, saved_maps=source == "pns"
        )
        return SegmenterPredictor(segmenter, saved_maps=source == "pns")

    def save_weights(self, model: nn.Module, path: Path) -> None:
        save_samihs_weights(model, path, contents=self.weight_contents)

    def load_weights(self, model: nn.Module, path: Path) -> None:
        load_samihs_weights(model, path)

    def _image_size(self) -> int:
        spec = self.config.model
        return samihs_config(spec.variant, spec.image_size).image_size


def sam_inputs(
    batch: dict[str, torch.Tensor], settings: PromptSettings, device: torch.device
) -> dict:
    """SAMIHS forward arguments from a collated batch of training samples."""
    inputs: dict = {"images": batch["image"].to(device)}
    if settings.use_box:
        inputs["boxes"] = batch["box"].to(device)
    if settings.use_point:
        inputs["points"] = (batch["point"].to(device), batch["point_label"].to(device))
    if settings.use_mask and "mask_prompt" in batch:
        inputs["mask_prompt"] = batch["mask_prompt"].to(device)
    return inputs
