"""Models of polyp-live: SAMIHS (SAM + PR adapters), PNS+, prompts, the segmenter, and the
AutoSAM baseline."""

from .autosam import build_autosam, load_autosam
from .pipeline import FrameResult, InferenceSequence, StreamingPNS
from .pns_plus import build_pns_plus
from .samihs import build_samihs, load_samihs
from .segmenter import PolypSegmenter
from .weights import CheckpointError

__all__ = [
    "CheckpointError",
    "FrameResult",
    "InferenceSequence",
    "PolypSegmenter",
    "StreamingPNS",
    "build_autosam",
    "load_autosam",
    "build_pns_plus",
    "build_samihs",
    "load_samihs",
]
