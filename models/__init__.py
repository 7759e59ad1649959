"""Models of polyp-live: SAMIHS (SAM + PR adapters), PNS+, prompts, and the segmenter."""

from .pns_plus import StreamingPNS, build_pns_plus
from .samihs import build_samihs, load_samihs
from .segmenter import PolypSegmenter, Segmentation
from .weights import CheckpointError

__all__ = [
    "CheckpointError",
    "PolypSegmenter",
    "Segmentation",
    "StreamingPNS",
    "build_pns_plus",
    "build_samihs",
    "load_samihs",
]
