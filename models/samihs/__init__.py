"""SAMIHS: SAM with Parameter-Refactoring adapters."""

from .build import at_image_size, build_samihs, load_samihs, samihs_config
from .checkpoint import load_pretrained, load_samihs_weights, save_samihs_weights
from .config import SAMIHS_VARIANTS, SAMIHSConfig
from .model import SAMIHS, is_trainable_key
from .summary import format_parameter_summary, parameter_groups
from .transforms import FrameGeometry, logits_to_frame, preprocess_frame, probability_in_frame

__all__ = [
    "SAMIHS",
    "SAMIHS_VARIANTS",
    "FrameGeometry",
    "SAMIHSConfig",
    "at_image_size",
    "build_samihs",
    "format_parameter_summary",
    "is_trainable_key",
    "load_pretrained",
    "load_samihs",
    "load_samihs_weights",
    "logits_to_frame",
    "parameter_groups",
    "preprocess_frame",
    "probability_in_frame",
    "samihs_config",
    "save_samihs_weights",
]
