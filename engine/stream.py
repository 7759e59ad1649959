"""The streaming segmenter: the inference sequence (models.pipeline) on a bundle and a back end.

    source -> field of view (a capture screen cropped to the picture) -> preprocess
           -> PNS+ (frame encoder -> ring buffer -> temporal head) -> prompts
           -> SAM (only when there is a prompt) -> postprocess (mask back to the frame size)

The stages are models.pipeline.InferenceSequence, the same code polyp-eval and training
validation run; this module adds the back end (engine/runners) and scene-cut restarts.
`InferenceWorker` (engine/worker.py) runs a segmenter on its own thread for the live app.
"""

from __future__ import annotations

from pathlib import Path

from models.pipeline import (
    DEFAULT_CUT_THRESHOLD,
    FrameResult,
    InferenceSequence,
    MapPrompts,
    Segmenter,
    StageTimings,
    probability_to_grey,
)
from models.pipeline.bundle import BundleError, ModelBundle, load_bundle
from models.prompts import PromptConfig

from .runners import Runner, create_runner
from .worker import InferenceWorker, WorkerResult

DEMO_MODEL_DIR = Path(__file__).resolve().parents[1] / "assets" / "model"


class StreamSegmenter(InferenceSequence):
    """Per-frame PNS+ -> prompts -> SAMIHS for a bundle on one back end; single thread."""

    def __init__(
        self,
        bundle: ModelBundle,
        backend: str = "auto",
        prompt_config: PromptConfig | None = None,
        channel_order: str = "BGR",
        cut_threshold: float | None = DEFAULT_CUT_THRESHOLD,
        runner: Runner | None = None,
    ) -> None:
        config = prompt_config or bundle.prompt_config
        stage = MapPrompts("pns", config)  # checks the policy before a runner is built
        self.bundle = bundle
        super().__init__(
            runner or create_runner(bundle, backend, config.max_components),
            stage,
            bundle.samihs.config.image_size,
            bundle.pns_input_size,
            channel_order,
            cut_threshold,
            bundle.smoothing,
        )


def build_stream_segmenter(model: str | Path | None, backend: str = "auto") -> StreamSegmenter:
    """A StreamSegmenter for a bundle folder; None means the bundled demo model (assets/model/)."""
    if model is None:
        if not DEMO_MODEL_DIR.is_dir():
            raise BundleError(
                f"no bundled demo model at {DEMO_MODEL_DIR}; pass --model DIR (a folder "
                "written by polyp-export --out DIR)"
            )
        model = DEMO_MODEL_DIR
    return StreamSegmenter(load_bundle(model), backend)


__all__ = [
    "DEFAULT_CUT_THRESHOLD",
    "FrameResult",
    "InferenceWorker",
    "Segmenter",
    "StageTimings",
    "StreamSegmenter",
    "WorkerResult",
    "build_stream_segmenter",
    "probability_to_grey",
]
