"""The streaming segmenter: one frame in, a mask out, stage by stage.

    source -> preprocess -> PNS+ (frame encoder -> ring buffer -> temporal head) -> prompts
           -> SAM (only when there is a prompt) -> postprocess (mask back to the frame size)

Per new frame the PNS+ backbone runs once; its features go into a fixed-capacity ring buffer
(anchor kept; reset on a new source or a detected scene cut). With the torch back end on CPU
the result equals the offline `models.PolypSegmenter` frame by frame. `InferenceWorker`
(engine/worker.py) runs a segmenter on its own thread for the live app.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from models.pns_plus import CLIP_FRAMES
from models.prompts import PromptConfig, prompts_from_probability
from models.samihs import probability_in_frame

from .bundle import BundleError, ModelBundle, load_bundle
from .cut_detector import CutDetector
from .preprocess import FramePreprocessor
from .ring_buffer import FeatureRing
from .runners import Runner, create_runner
from .sam_prompts import SamPrompt
from .worker import InferenceWorker, WorkerResult

DEFAULT_CUT_THRESHOLD = 0.2
DEMO_MODEL_DIR = Path(__file__).resolve().parents[1] / "assets" / "model"


@dataclass(frozen=True)
class StageTimings:
    """Milliseconds spent in each stage of one frame (sam = 0 when SAM was skipped)."""

    preprocess: float
    pns: float
    prompts: float
    sam: float
    postprocess: float
    total: float


@dataclass(frozen=True)
class FrameResult:
    """The segmentation of one frame of size (H, W).

    probability: (H, W) float32 in [0, 1] (zeros when SAM was skipped).
    mask: (H, W) bool, probability > 0.5.
    boxes: (N, 4) float32 x1, y1, x2, y2 in frame pixels: the prompt components, largest first.
    score: highest component score (mean PNS+ probability over it), 0.0 when none.
    pns_probability: (Hm, Wm) float32 PNS+ map of the frame (256x448 by default).
    cut: True when this frame was detected as a scene cut (the stream restarted on it).
    """

    probability: np.ndarray
    mask: np.ndarray
    boxes: np.ndarray
    score: float
    polyp_present: bool
    timings: StageTimings
    pns_probability: np.ndarray | None = None
    cut: bool = False

    @property
    def sam_ran(self) -> bool:
        return len(self.boxes) > 0


class StreamSegmenter:
    """Per-frame PNS+ -> prompts -> SAMIHS on one back end; single thread."""

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
        if not (config.use_box or config.use_point or config.use_mask):
            raise ValueError("the prompt policy must use at least one of box, point, mask prompt")
        self.bundle = bundle
        self.prompt_config = config
        # Boxes are always computed (they are reported); SAM gets them only if use_box.
        self._component_config = replace(config, use_box=True)
        self.runner = runner or create_runner(bundle, backend, config.max_components)
        self.backend_name = self.runner.name
        self.device = self.runner.device
        self.image_size = bundle.samihs.config.image_size
        self.preprocessor = FramePreprocessor(
            bundle.pns_input_size, self.image_size, channel_order, self.device
        )
        self.ring = FeatureRing(CLIP_FRAMES)
        self.cuts = CutDetector(cut_threshold)

    def reset(self) -> None:
        """New source: the next frame becomes the anchor and fills the window."""
        self.ring.reset()
        self.cuts.reset()

    @torch.inference_mode()
    def process(self, frame: np.ndarray) -> FrameResult:
        """Segments the newest frame (H, W, 3) uint8 of the stream."""
        clock = _StageClock(self.runner)
        pre = self.preprocessor
        pre.start(frame)
        cut = self.cuts(frame)
        if cut:
            self.ring.reset()
        pns_input = pre.pns_input()
        preprocess_ms = clock.lap()

        low, high = self.runner.encode_frame(pns_input)
        self.ring.push((low, high))
        recent_low, recent_high = self.ring.window()
        anchor_high = self.ring.anchor[1]
        probability_map = self.runner.temporal_head(anchor_high, recent_low, recent_high)
        pns_map = probability_map[0, 0].float().cpu().numpy()
        pns_ms = clock.lap()

        prompts = prompts_from_probability(
            pns_map, pre.frame_size, self.image_size, self._component_config
        )
        prompts_ms = clock.lap()

        sam_ms = 0.0
        if prompts.empty:
            probability = np.zeros(pre.frame_size, np.float32)
        else:
            image, geometry = pre.sam_input()
            preprocess_ms += clock.lap()
            sam_prompt = SamPrompt.from_prompts(prompts, self.device, self.prompt_config.use_box)
            embeddings = self.runner.encode_image(image)
            logits = self.runner.decode(embeddings, sam_prompt).amax(dim=0, keepdim=True)
            sam_ms = clock.lap()
            probability = probability_in_frame(logits, geometry)
        mask = probability > 0.5
        boxes = prompts.to_frame().boxes
        postprocess_ms = clock.lap()
        timings = StageTimings(preprocess_ms, pns_ms, prompts_ms, sam_ms, postprocess_ms,
                               clock.total())
        return FrameResult(
            probability=probability,
            mask=mask,
            boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
            score=float(prompts.scores.max()) if len(prompts) else 0.0,
            polyp_present=bool(mask.any()),
            timings=timings,
            pns_probability=pns_map,
            cut=cut,
        )


class _StageClock:
    """Milliseconds between laps; waits for the device first so GPU stages are timed honestly."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.start = self.last = time.perf_counter()

    def lap(self) -> float:
        self.runner.synchronize()
        now = time.perf_counter()
        elapsed, self.last = (now - self.last) * 1e3, now
        return elapsed

    def total(self) -> float:
        return (self.last - self.start) * 1e3


def build_stream_segmenter(model: str | Path | None, backend: str = "auto") -> StreamSegmenter:
    """A StreamSegmenter for a bundle folder; None means the bundled demo model (assets/model/)."""
    if model is None:
        if not DEMO_MODEL_DIR.is_dir():
            raise BundleError(
                f"no bundled demo model at {DEMO_MODEL_DIR}; pass --model DIR (a folder "
                "written by polyp-export or by training)"
            )
        model = DEMO_MODEL_DIR
    return StreamSegmenter(load_bundle(model), backend)


__all__ = [
    "DEFAULT_CUT_THRESHOLD",
    "FrameResult",
    "InferenceWorker",
    "StageTimings",
    "StreamSegmenter",
    "WorkerResult",
    "build_stream_segmenter",
]
