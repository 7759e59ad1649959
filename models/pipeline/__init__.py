"""The one inference sequence and what it is built from (see sequence.py).

Every front end segments with `InferenceSequence`: the viewer (engine.StreamSegmenter), polyp-eval
and training validation (models.PolypSegmenter), polyp-bench.
"""

from .bundle import BundleError, ModelBundle, load_bundle, save_bundle
from .cut_detector import DEFAULT_CUT_THRESHOLD, CutDetector
from .feature_ring import FeatureRing
from .field_of_view import FieldOfView, FieldOfViewTracker, find_field_of_view
from .pns_step import PnsStep, StreamingPNS
from .postprocess import MASK_THRESHOLD, Postprocess, probability_to_grey
from .preprocess import FramePreprocessor, check_frame
from .prompt_sources import (
    ORACLE_SOURCES,
    PROMPT_SOURCES,
    AutoSamPrompts,
    MapPrompts,
    PromptStage,
    oracle_probability,
)
from .result import FrameResult, Segmenter, StageTimings
from .runner import Runner
from .sam_prompt import PAD_LABEL, SamPrompt
from .sequence import InferenceSequence
from .smoothing import PresenceHysteresis, SmoothingConfig
from .torch_runner import TorchRunner

__all__ = [
    "PresenceHysteresis",
    "SmoothingConfig",
    "DEFAULT_CUT_THRESHOLD",
    "MASK_THRESHOLD",
    "ORACLE_SOURCES",
    "PAD_LABEL",
    "PROMPT_SOURCES",
    "AutoSamPrompts",
    "BundleError",
    "CutDetector",
    "FeatureRing",
    "FieldOfView",
    "FieldOfViewTracker",
    "FramePreprocessor",
    "FrameResult",
    "InferenceSequence",
    "MapPrompts",
    "ModelBundle",
    "PnsStep",
    "Postprocess",
    "PromptStage",
    "Runner",
    "SamPrompt",
    "Segmenter",
    "StageTimings",
    "StreamingPNS",
    "TorchRunner",
    "check_frame",
    "find_field_of_view",
    "load_bundle",
    "oracle_probability",
    "probability_to_grey",
    "save_bundle",
]
