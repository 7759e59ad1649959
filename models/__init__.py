"""Models of polyp-live: SAMIHS (SAM + PR adapters), PNS+, prompts, the segmenter, and the
AutoSAM baseline."""

from .autosam import build_autosam, load_autosam
from .pns_plus import StreamingPNS, build_pns_plus
from .samihs import build_samihs, load_samihs
from .segmenter import PolypSegmenter, Segmentation
from .weights import CheckpointError

__all__ = [
    "CheckpointError",
    "PolypSegmenter",
    "Segmentation",
    "StreamingPNS",
    "build_autosam",
    "load_autosam",
    "build_pns_plus",
    "build_samihs",
    "load_samihs",
]
