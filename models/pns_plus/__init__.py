"""PNS+ video polyp segmentation in plain PyTorch; its streaming form is the PNS+ step of
models.pipeline."""

from models.pns_plus.build import (
    BACKBONES,
    DEFAULT_BACKBONE,
    UNUSED_CHECKPOINT_PREFIXES,
    build_pns_plus,
    load_checkpoint,
)
from models.pns_plus.export import FrameEncoder, TemporalHead
from models.pns_plus.network import CLIP_FRAMES, FrameFeatures, PNSPlus
from models.pns_plus.preprocess import frame_to_input
from models.pns_plus.window_attention import ns_window_attention

__all__ = [
    "BACKBONES",
    "CLIP_FRAMES",
    "DEFAULT_BACKBONE",
    "UNUSED_CHECKPOINT_PREFIXES",
    "FrameEncoder",
    "FrameFeatures",
    "PNSPlus",
    "TemporalHead",
    "build_pns_plus",
    "frame_to_input",
    "load_checkpoint",
    "ns_window_attention",
]
