"""AutoSAM (the baseline): a CNN prompt network feeding SAM's mask decoder a dense prompt."""

from .build import AUTOSAM_FORMAT, build_autosam, load_autosam, save_autosam_weights
from .encoders import ENCODERS, build_encoder
from .model import AutoSAM, AutoSAMPromptNet, check_compatible, decode_dense

__all__ = [
    "AUTOSAM_FORMAT",
    "ENCODERS",
    "AutoSAM",
    "AutoSAMPromptNet",
    "build_autosam",
    "build_encoder",
    "check_compatible",
    "decode_dense",
    "load_autosam",
    "save_autosam_weights",
]
