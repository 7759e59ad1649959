"""The one inference sequence: every front end (viewer, polyp-eval, training validation,
polyp-bench) segments frames with it.

    frame -> field of view -> preprocess -> [cut check]
          -> PNS+ step (frame encoder -> feature ring -> temporal head)
          -> prompts (prompt source) -> SAM (only when there is a prompt) -> postprocess

A frame with wide black margins (a capture card's whole screen) is cropped to the endoscope's
picture first and the result pasted back (field_of_view.py); the networks see what they saw in
training.

On a runner with `parallel_sam_image`, while a polyp is in view SAM's image step starts on a
second thread before the PNS+ step (sam_image_lane.py); the outputs are the same.

Each stage is a named unit; the networks run on a Runner (PyTorch here, ONNX Runtime and
TensorRT in the engine), so every back end goes through the same stages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import wait
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import torch

from ..prompts import Prompts
from .cut_detector import CutDetector
from .field_of_view import FieldOfView, FieldOfViewTracker
from .pns_step import PnsStep
from .postprocess import Postprocess
from .preprocess import FramePreprocessor, check_frame
from .prompt_sources import PromptStage
from .result import FrameResult, StageTimings
from .runner import Runner
from .sam_image_lane import SamImageLane
from .smoothing import SmoothingConfig


class InferenceSequence:
    """Per-frame PNS+ -> prompts -> SAMIHS on one runner; single thread, one stream at a time.

    prompt_stage: MapPrompts("pns" | oracle, config) or AutoSamPrompts (see prompt_sources).
    image_size: SAM's square input side; pns_input_size: PNS+'s (H, W) input.
    cut_threshold: restart the stream on a scene cut (CutDetector); None never restarts.
    smoothing: presence hysteresis across frames in the postprocess stage; None: off.
    """

    def __init__(
        self,
        runner: Runner,
        prompt_stage: PromptStage,
        image_size: int,
        pns_input_size: tuple[int, int] = (256, 448),
        channel_order: str = "BGR",
        cut_threshold: float | None = None,
        smoothing: SmoothingConfig | None = None,
    ) -> None:
        self.runner = runner
        self.backend_name = runner.name
        self.device = runner.device
        self.prompt_stage = prompt_stage
        self.image_size = image_size
        self.preprocessor = FramePreprocessor(
            pns_input_size, image_size, channel_order, self.device
        )
        self.field_of_view = FieldOfViewTracker()
        self.pns_step = PnsStep(runner)
        self.cuts = CutDetector(cut_threshold)
        self.postprocess = Postprocess(smoothing)
        self.sam_image_lane = SamImageLane(runner) if runner.parallel_sam_image else None
        self._polyp_in_view = False  # the last frame had prompts: start SAM's image step early

    @property
    def prompt_source(self) -> str:
        return self.prompt_stage.source

    def reset(self) -> None:
        """New stream: the next frame becomes the anchor and fills the window."""
        self.field_of_view.reset()
        self.pns_step.reset()
        self.cuts.reset()
        self.postprocess.reset()
        self._polyp_in_view = False

    @torch.inference_mode()
    def process(
        self,
        frame: np.ndarray,
        gt_mask: np.ndarray | None = None,
        pns_map: np.ndarray | None = None,
    ) -> FrameResult:
        """Segments the newest frame (H, W, 3) uint8 of the stream.

        gt_mask: (H, W), nonzero = polyp; needed (only) by the oracle prompt sources.
        pns_map: a PNS+ map saved earlier (any size, a resize of the frame) to prompt from
          instead of running the PNS+ step (training validation on saved maps).
        """
        frame_size = check_frame(frame).shape[:2]
        view_changed = self.field_of_view.update(frame)
        view = self.field_of_view.current
        if view is not None:
            frame = view.crop(frame)
            gt_mask = view.crop(gt_mask) if gt_mask is not None else None
            pns_map = view.crop_resized(pns_map, frame_size) if pns_map is not None else None
        with torch_threads(self.runner.glue_threads):
            result = self._process(frame, gt_mask, pns_map, view_changed)
        return result if view is None else _in_whole_frame(result, view, frame_size)

    def _process(
        self,
        frame: np.ndarray,
        gt_mask: np.ndarray | None,
        pns_map: np.ndarray | None,
        view_changed: bool,
    ) -> FrameResult:
        stage = self.prompt_stage
        clock = _StageClock(self.runner)
        pre = self.preprocessor
        pre.start(frame)
        cut = self.cuts(frame) or view_changed  # frames cropped differently do not mix
        if cut:
            self.pns_step.reset()
            self.postprocess.reset()
        runs_pns = stage.uses_pns and pns_map is None
        early = None
        if self.sam_image_lane is not None and runs_pns and self._polyp_in_view:
            early = self.sam_image_lane.start(pre)
        pns_input = pre.pns_input() if runs_pns else None
        preprocess_ms = clock.lap()

        try:
            if pns_input is not None:
                pns_map = self.pns_step(pns_input)[0, 0].float().cpu().numpy()
            pns_ms = clock.lap()
            prompts = stage(pns_map, pre.frame_size, self.image_size, gt_mask)
            prompts_ms = clock.lap()
        except BaseException:
            if early is not None:
                wait([early])  # the next frame must not start under SAM's image step
            raise

        logits = geometry = None
        sam_ms = 0.0
        self._polyp_in_view = not prompts.empty
        if stage.needs_sam(prompts):  # the SAM step: encode the image once, decode the prompts
            if early is not None:
                image, geometry, embeddings = early.result()
            else:
                image, geometry = pre.sam_input()
                preprocess_ms += clock.lap()
                embeddings = self.runner.encode_image(image)
            logits = stage.decode(self.runner, image, embeddings, prompts)
            sam_ms = clock.lap()
        elif early is not None:
            early.result()  # unused, but frames never overlap and its errors are not lost
        score = float(prompts.scores.max()) if len(prompts) else 0.0
        probability, mask = self.postprocess(logits, geometry, pre.frame_size, score)
        postprocess_ms = clock.lap()
        timings = StageTimings(
            preprocess_ms, pns_ms, prompts_ms, sam_ms, postprocess_ms, clock.total()
        )
        return _result(stage, prompts, probability, mask, pns_map, cut, timings)


def _result(
    stage: PromptStage,
    prompts: Prompts,
    probability: np.ndarray,
    mask: np.ndarray,
    pns_map: np.ndarray | None,
    cut: bool,
    timings: StageTimings,
) -> FrameResult:
    in_frame = prompts.to_frame()
    boxes = in_frame.boxes if in_frame.boxes is not None else np.zeros((0, 4), np.float32)
    score = float(prompts.scores.max()) if len(prompts) else 0.0
    return FrameResult(
        probability=probability,
        mask=mask,
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        score=score,
        polyp_present=bool(mask.any()),
        timings=timings,
        pns_probability=pns_map if pns_map is not None else np.zeros((0, 0), np.float32),
        cut=cut,
        prompts=stage.as_given(in_frame),
        source=stage.source,
    )


def _in_whole_frame(
    result: FrameResult, view: FieldOfView, frame_size: tuple[int, int]
) -> FrameResult:
    """A result for the field of view's crop, put back in the whole frame's coordinates."""
    return replace(
        result,
        probability=view.paste(result.probability, frame_size),
        mask=view.paste(result.mask, frame_size),
        boxes=result.boxes + view.offset,
        field_of_view=view,
    )


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """PyTorch's CPU thread count set to `count` inside, restored after (None: unchanged)."""
    previous = torch.get_num_threads()
    if count is None or count == previous:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


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
