"""The PNS+ network: per-frame encoder, temporal head (two NS blocks) and decoder."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from models.pns_plus.decoder import Decoder
from models.pns_plus.ns_block import NSBlock
from models.pns_plus.rfb import LightRFB

CLIP_FRAMES = 5  # frames after the anchor in one clip
LOW_CHANNELS = 24
HIGH_CHANNELS = 32
GLOBAL_DILATIONS = (3, 4, 3, 4)
LOCAL_DILATIONS = (1, 2, 1, 2)
RADIUS = 3


class FrameFeatures(NamedTuple):
    """What the encoder keeps of a frame.

    low: (..., 24, H/8, W/8) reduced stage-2 features; high: (..., 32, H/16, W/16) reduced
    stage-3 features. Leading dims are (N,) for single frames or (B, T) for clips.
    """

    low: torch.Tensor
    high: torch.Tensor


class PNSPlus(nn.Module):
    """PNS+ (Ji et al., MIR 2022) with a pluggable backbone.

    forward: (B, 6, 3, H, W) in [0, 1], RGB, index 0 the anchor frame and 1..5 consecutive frames
    -> (B*5, 1, H, W) polyp probabilities of the five frames, as the released network.
    Attribute names (`feature_extractor`, `High_RFB`, `NSB_global`, `SegNIN`, ...) are the
    released checkpoint's, so its state_dict loads after stripping `module.`.
    """

    def __init__(self, backbone: nn.Module, input_size: tuple[int, int] = (256, 448)) -> None:
        super().__init__()
        height, width = input_size
        if height % 16 or width % 16 or height <= 0 or width <= 0:
            raise ValueError(f"input size must be positive multiples of 16, got {input_size}")
        self.input_size = (height, width)
        feature_size = (height // 16, width // 16)
        self.feature_extractor = backbone
        self.High_RFB = LightRFB(backbone.high_channels, 128, HIGH_CHANNELS)
        self.Low_RFB = LightRFB(backbone.low_channels, 128, LOW_CHANNELS)
        self.NSB_global = NSBlock(
            HIGH_CHANNELS, radius=RADIUS, dilations=GLOBAL_DILATIONS, feature_size=feature_size
        )
        self.NSB_local = NSBlock(
            HIGH_CHANNELS, radius=RADIUS, dilations=LOCAL_DILATIONS, feature_size=feature_size
        )
        self.decoder = Decoder(LOW_CHANNELS, HIGH_CHANNELS)
        self.SegNIN = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(16, 1, 1, bias=False))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        """(B, 6, 3, H, W) -> (B*5, 1, H, W) probabilities; one backbone call for all frames."""
        self._check_shape(
            clip, (None, 1 + CLIP_FRAMES, 3, *self.input_size), "(B, 6, 3, H, W): anchor + 5 frames"
        )
        b = clip.shape[0]
        features = self.encode_frame(clip.flatten(0, 1))
        low = features.low.unflatten(0, (b, 1 + CLIP_FRAMES))[:, 1:]
        high = features.high.unflatten(0, (b, 1 + CLIP_FRAMES))
        probabilities = self._temporal_decode(high[:, 0], FrameFeatures(low, high[:, 1:]), False)
        return probabilities.flatten(0, 1)

    def encode_frame(self, frames: torch.Tensor) -> FrameFeatures:
        """Backbone + LightRFBs: (N, 3, H, W) in [0, 1] -> FrameFeatures with leading dim N."""
        self._check_shape(frames, (None, 3, *self.input_size), "(N, 3, H, W)")
        stage2, stage3 = self.feature_extractor(frames)
        return FrameFeatures(low=self.Low_RFB(stage2), high=self.High_RFB(stage3))

    def temporal_head(self, anchor_high: torch.Tensor, recent: FrameFeatures) -> torch.Tensor:
        """Probability map of the newest frame from cached features.

        Arguments:
          anchor_high: (B, 32, H/16, W/16), the anchor frame's high-level features (the anchor's
            low-level features are never used by the network).
          recent: features of the last 5 frames, oldest first, fields (B, 5, C, h, w).
        Returns:
          (B, 1, H, W) probabilities of recent[:, 4]; equal to forward()'s output for that frame.
        """
        if recent.high.dim() != 5 or recent.high.shape[1] != CLIP_FRAMES:
            raise ValueError(
                f"temporal_head needs the last {CLIP_FRAMES} frames' features as (B, 5, C, h, w),"
                f" got high features of shape {tuple(recent.high.shape)}"
            )
        newest = FrameFeatures(recent.low[:, -1:], recent.high)
        return self._temporal_decode(anchor_high, newest, True)[:, 0]

    def _temporal_decode(
        self, anchor_high: torch.Tensor, frames: FrameFeatures, newest_only: bool
    ) -> torch.Tensor:
        """anchor_high (B, 32, h, w); frames.high (B, 5, 32, h, w); frames.low (B, n, 24, 2h, 2w)
        with n = 1 if newest_only else 5 -> (B, n, 1, H, W) probabilities."""
        high = frames.high
        # The global block's query is the anchor for every frame, so its output is one map
        # shared by the 5 frames: computing it once is exact (the released code repeats it).
        global_context = self.NSB_global(anchor_high.unsqueeze(1), high)
        after_global = global_context + high
        # Only the frames whose output is wanted need a query in the local block; its keys and
        # values still span all 5 frames.
        queries = after_global[:, -1:] if newest_only else after_global
        after_local = self.NSB_local(queries, after_global) + queries
        fused = after_local + high[:, -queries.shape[1] :]
        b, n = fused.shape[:2]
        low = frames.low.flatten(0, 1)
        fused = F.interpolate(
            fused.flatten(0, 1), size=low.shape[-2:], mode="bilinear", align_corners=False
        )
        logits = self.SegNIN(self.decoder(low, fused))
        logits = F.interpolate(logits, size=self.input_size, mode="bilinear", align_corners=False)
        return torch.sigmoid(logits).unflatten(0, (b, n))

    @staticmethod
    def _check_shape(x: torch.Tensor, expected: tuple[int | None, ...], layout: str) -> None:
        if torch.jit.is_tracing():
            return  # shapes are traced as constants anyway; comparing them only raises warnings
        fits = x.dim() == len(expected) and all(
            want is None or want == got for want, got in zip(expected, x.shape, strict=True)
        )
        if not fits:
            want = ", ".join("B" if size is None else str(size) for size in expected)
            raise ValueError(
                f"PNS+ expects input of shape ({want}) {layout}, float in [0, 1]; "
                f"got {tuple(x.shape)}"
            )
