"""AutoSAM training (the baseline): only the prompt network trains, on top of a frozen SAMIHS
(model.init_weights or model.sam_checkpoint); loss BCE + Tversky; the weight file holds the
prompt network, the SAM it drives is rebuilt from the same config."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from models.autosam import AutoSAM, build_autosam, load_autosam, save_autosam_weights
from models.segmenter import PolypSegmenter

from ..config import SamTrainConfig
from ..errors import ConfigError
from ..evaluate.predict import SegmenterPredictor
from ..losses import BceTverskyLoss
from .sam_task import SamTask


class AutoSamTask(SamTask):
    name = "autosam"
    find_unused_parameters = False
    # A pretrained EfficientNet-Lite encoder (optim.pretrained_lr_scale applies to it).
    pretrained_prefixes = ("prompt_net.encoder.trunk.",)

    def __init__(self, config: SamTrainConfig) -> None:
        model = config.model
        if model.sam_checkpoint is None and model.init_weights is None:
            raise ConfigError(
                "AutoSAM drives a frozen SAM: set model.init_weights (a SAMIHS file) or "
                "model.sam_checkpoint (official SAM .pth)"
            )
        super().__init__(config)
        spec = config.autosam
        if min(spec.bce_weight, spec.tversky_weight, spec.tversky_alpha, spec.tversky_beta) < 0:
            raise ConfigError("autosam loss weights and tversky_alpha / tversky_beta must be >= 0")
        self.loss = BceTverskyLoss(
            spec.bce_weight, spec.tversky_weight, spec.tversky_alpha, spec.tversky_beta
        )

    def build_model(self) -> AutoSAM:
        sam = super().build_model()
        spec = self.config.autosam
        try:
            return build_autosam(
                sam, spec.encoder, spec.checkpoint, spec.decoder_dim, spec.pretrained_encoder
            )
        except ValueError as error:
            if type(error) is not ValueError:
                raise  # CheckpointError: already one line naming the file
            raise ConfigError(f"autosam: {error}") from None

    def compute_loss(self, model: nn.Module, batch: dict, device: torch.device) -> torch.Tensor:
        return self.loss(model(batch["image"].to(device)), batch["target"].to(device))

    def predictor(self, model: nn.Module, device: torch.device) -> SegmenterPredictor:
        segmenter = PolypSegmenter(
            None, model.sam, prompt_source="autosam", autosam=model.prompt_net
        )
        return SegmenterPredictor(segmenter)

    def save_weights(self, model: nn.Module, path: Path) -> None:
        save_autosam_weights(model, path)

    def load_weights(self, model: nn.Module, path: Path) -> None:
        model.prompt_net.load_state_dict(load_autosam(path, model.sam).prompt_net.state_dict())


def make_sam_task(config: SamTrainConfig) -> SamTask:
    """The task for `polyp-train sam`: AutoSAM's for prompt.source autosam, else SAMIHS's."""
    return AutoSamTask(config) if config.prompt.source == "autosam" else SamTask(config)
