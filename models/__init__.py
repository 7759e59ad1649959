"""Models of polyp-live: SAMIHS (SAM + PR adapters), PNS+, prompts, and the segmenter."""

from .samihs import build_samihs, load_samihs
from .weights import CheckpointError

__all__ = ["CheckpointError", "build_samihs", "load_samihs"]
