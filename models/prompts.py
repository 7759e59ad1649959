"""SAM prompts from a PNS+ probability map: component boxes, peak points and a dense mask prompt.

Three coordinate spaces take part:
  - "map":   the PNS+ output, (Hm, Wm) = 256x448 by default, a NON-aspect-preserving resize of the
             frame, so x and y scale differently.
  - "frame": the original video frame, (Hf, Wf), any size.
  - "sam":   SAM's input space: the frame resized so its longest side is `image_size` (SAM's
             `ResizeLongestSide`, which rounds the resized size to whole pixels), then padded at
             the bottom/right to an `image_size` square; only its top-left (newh, neww) is image.

Coordinate convention (all spaces): continuous pixel-edge coordinates. Pixel (row i, column j)
covers [j, j+1) x [i, i+1); its centre is (j + 0.5, i + 0.5). A box is XYXY with x1, y1 the
top-left edge of its first pixel and x2, y2 the bottom-right edge of its last pixel, so a component
spanning columns c0..c1 has x1 = c0, x2 = c1 + 1 and width x2 - x1 = its pixel count across.
With this convention every mapping between spaces is a pure per-axis scale (no half-pixel
offsets), exactly what an INTER_LINEAR / align_corners=False resize does to image content, and a
box touching the map border maps onto the frame border. SAM's prompt encoder instead reads
coordinates as pixel indices (it adds 0.5 itself); `Prompts.as_pixel_indices` converts.

Dense mask prompt: SAM's `mask_input` is a low-resolution logit map of the padded square,
image_size // 4 on a side (256x256 for SAM's 1024 input). The probability map is placed into that
geometry exactly (same scale as ResizeLongestSide, padding bottom/right), then converted to
    logits = clip(logit(p) - logit(threshold), -mask_logit_clip, +mask_logit_clip)
so a logit is positive exactly where p > threshold, the same pixels that define the components,
and the padding (p = 0) gets -mask_logit_clip. The clip keeps logit(0) and logit(1) finite and in
the range of SAM's own low-res logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal, cast

import cv2
import numpy as np
import torch

from .samihs.transforms import FrameGeometry

Space = Literal["map", "frame", "sam"]
_SPACES: tuple[str, ...] = ("map", "frame", "sam")


@dataclass(frozen=True)
class PromptConfig:
    """How a probability map becomes prompts.

    threshold: a pixel belongs to a component where p > threshold.
    max_components: at most this many components, largest first.
    min_area: components with fewer map pixels are dropped as noise. 64 = one 8x8 cell of PNS+'s
      stride-8 decoder (256x448 map -> 32x56 cells): a blob smaller than one cell is bilinear
      upsampling residue, not something the network resolved. It is in map pixels whatever the map
      size, because the decoder's stride, not the map size, sets what the network can resolve.
    use_box, use_point, use_mask: which prompts to produce (the rest come back as None).
    mask_logit_clip: the dense prompt's logits are clipped to +-this (see the module docstring).
    """

    threshold: float = 0.5
    max_components: int = 3
    min_area: int = 64
    use_box: bool = True
    use_point: bool = True
    use_mask: bool = True
    mask_logit_clip: float = 10.0

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if self.max_components < 1:
            raise ValueError(f"max_components must be >= 1, got {self.max_components}")
        if self.min_area < 1:
            raise ValueError(f"min_area must be >= 1 map pixel, got {self.min_area}")
        if self.mask_logit_clip <= 0:
            raise ValueError(f"mask_logit_clip must be > 0, got {self.mask_logit_clip}")


def sam_input_size(frame_size: tuple[int, int], image_size: int) -> tuple[int, int]:
    """(newh, neww) of a frame after SAM's ResizeLongestSide (rounded exactly as SAM rounds)."""
    return FrameGeometry((int(frame_size[0]), int(frame_size[1])), image_size).resized_size


@dataclass(frozen=True)
class PromptGeometry:
    """Sizes of the three spaces, all (H, W); `image_size` is SAM's square input side."""

    map_size: tuple[int, int]
    frame_size: tuple[int, int]
    image_size: int = 1024

    def __post_init__(self) -> None:
        for name in ("map_size", "frame_size"):
            size = getattr(self, name)
            if len(size) != 2 or min(size) < 1:
                raise ValueError(f"{name} must be (H, W) with positive sides, got {size}")
        if self.image_size < 4:
            raise ValueError(f"image_size must be >= 4, got {self.image_size}")

    @property
    def input_size(self) -> tuple[int, int]:
        """(newh, neww): the image part of SAM's padded square input."""
        return sam_input_size(self.frame_size, self.image_size)

    @property
    def mask_size(self) -> int:
        """Side of SAM's low-res mask input: 4x the 16-stride embedding, i.e. image_size // 4."""
        return self.image_size // 4

    def extent(self, space: Space) -> tuple[float, float]:
        """(width, height) of the image part of `space`: coordinates lie in [0, W] x [0, H]."""
        height, width = {
            "map": self.map_size,
            "frame": self.frame_size,
            "sam": self.input_size,
        }[_check_space(space)]
        return float(width), float(height)

    def scale(self, source: Space, target: Space) -> tuple[float, float]:
        """(sx, sy) with x_target = x_source * sx, y_target = y_source * sy."""
        source_w, source_h = self.extent(source)
        target_w, target_h = self.extent(target)
        # Ratios of extents: for frame -> sam this is SAM's apply_coords (new_w / old_w, rounded
        # new size), within 0.5 px of image_size / max(H, W).
        return target_w / source_w, target_h / source_h


@dataclass(frozen=True, eq=False)
class Prompts:
    """Prompts for one frame, ordered by component area (largest first). N = number of components.

    boxes: (N, 4) float32 XYXY pixel-edge coordinates in `space`, or None if not requested.
    points: (N, 2) float32 XY, the centre of each component's highest-probability pixel (which is
      on the component by construction), in `space`, or None. One point per component: for
      SAM's batched prompt encoder use points[:, None, :] and point_labels[:, None].
    point_labels: (N,) int32, all 1 (positive), or None with points.
    scores: (N,) float32 mean probability over each component.
    areas: (N,) int64 component areas in MAP pixels (whatever `space` is).
    mask_logits: (M, M) float32 with M = image_size // 4 (256 for SAM's 1024 input), always in SAM's
      padded low-res mask space whatever `space` is; None if not requested or `empty`.
    """

    space: Space
    geometry: PromptGeometry
    boxes: np.ndarray | None
    points: np.ndarray | None
    point_labels: np.ndarray | None
    scores: np.ndarray
    areas: np.ndarray
    mask_logits: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        _check_space(self.space)
        # Frozen dataclass + read-only arrays: a Prompts can be shared between threads safely.
        for name in ("boxes", "points", "point_labels", "scores", "areas", "mask_logits"):
            value = getattr(self, name)
            if value is not None:
                value.setflags(write=False)

    @property
    def empty(self) -> bool:
        """True when no component passed: the caller skips SAM for this frame."""
        return self.areas.size == 0

    def __len__(self) -> int:
        return int(self.areas.size)

    def to(self, space: Space) -> Prompts:
        """The same prompts with boxes and points in `space` (boxes clipped to its extent)."""
        if _check_space(space) == self.space:
            return self
        sx, sy = self.geometry.scale(self.space, space)
        width, height = self.geometry.extent(space)
        boxes = points = None
        if self.boxes is not None:
            boxes = self.boxes * np.array([sx, sy, sx, sy], dtype=np.float64)
            # Float round-off only: a box touching the border must stay exactly on it.
            boxes = np.clip(boxes, 0.0, [width, height, width, height]).astype(np.float32)
        if self.points is not None:
            points = (self.points * np.array([sx, sy], dtype=np.float64)).astype(np.float32)
        return replace(self, space=space, boxes=boxes, points=points)

    def to_frame(self) -> Prompts:
        return self.to("frame")

    def to_sam(self) -> Prompts:
        return self.to("sam")

    def to_map(self) -> Prompts:
        return self.to("map")

    def as_pixel_indices(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(boxes, points) in the pixel-index convention of SAM's PromptEncoder, same space.

        The encoder adds 0.5 ("shift to center of pixel"), so a point index is centre - 0.5 and a
        box is [x1, y1, x2 - 1, y2 - 1]: the indices of its first and last pixels.
        """
        boxes = None if self.boxes is None else self.boxes - np.float32([0, 0, 1, 1])
        points = None if self.points is None else self.points - np.float32(0.5)
        return boxes, points


def prompts_from_probability(
    prob_map: np.ndarray | torch.Tensor,
    frame_size: tuple[int, int],
    image_size: int = 1024,
    config: PromptConfig | None = None,
) -> Prompts:
    """Prompts for SAM from one PNS+ probability map.

    Arguments:
      prob_map: (Hm, Wm) probabilities in [0, 1] (leading singleton dims, e.g. (1, 1, Hm, Wm),
        and torch tensors are accepted), a non-aspect-preserving resize of the frame.
      frame_size: (H, W) of the original frame, i.e. frame.shape[:2].
      image_size: SAM's square input side (1024 for SAM ViT-B).
      config: threshold, component cap, noise floor and which prompts to produce.

    Returns:
      Prompts in SAM input space ("sam"); `.to_frame()` gives frame coordinates. `.empty` is True
      (and every prompt None or of length 0) when no component survives.
    """
    config = config or PromptConfig()
    prob = _as_2d_float(prob_map)
    geometry = PromptGeometry(
        map_size=(prob.shape[0], prob.shape[1]),
        frame_size=(int(frame_size[0]), int(frame_size[1])),
        image_size=int(image_size),
    )
    boxes, points, scores, areas = _components(prob, config)
    empty = areas.size == 0
    labels = np.ones(len(areas), dtype=np.int32)
    mask_logits = None
    if config.use_mask and not empty:
        mask_logits = _mask_prompt(prob, geometry, config)
    in_map = Prompts(
        space="map",
        geometry=geometry,
        boxes=boxes if config.use_box else None,
        points=points if config.use_point else None,
        point_labels=labels if config.use_point else None,
        scores=scores,
        areas=areas,
        mask_logits=mask_logits,
    )
    return in_map.to("sam")


def mask_logits_to_frame(mask_logits: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """Maps SAM-space low-res logits (M, M) back to an (H, W) float32 frame-space logit map.

    The same geometry as SAM's postprocess_masks (upscale to image_size, crop the unpadded
    (newh, neww) part, resize to the frame), done as one exact bilinear warp. The result does not
    depend on image_size: the low-res grid is image_size / 4 whatever image_size is.
    """
    logits = np.asarray(mask_logits, dtype=np.float32)
    if logits.ndim != 2 or logits.shape[0] != logits.shape[1]:
        raise ValueError(f"mask_logits must be square (M, M), got {logits.shape}")
    side = logits.shape[0]
    height, width = frame_size
    newh, neww = sam_input_size(frame_size, 4 * side)
    # frame coordinate = low-res coordinate * (4 * side / side) * (frame / new) per axis.
    sx, sy = 4.0 * width / neww, 4.0 * height / newh
    return cv2.warpAffine(
        logits,
        _scale_matrix(sx, sy),
        (int(width), int(height)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _check_space(space: str) -> Space:
    if space not in _SPACES:
        raise ValueError(f"space must be one of {_SPACES}, got {space!r}")
    return cast(Space, space)


def _as_2d_float(prob_map: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(prob_map, torch.Tensor):
        prob_map = prob_map.detach().to("cpu", torch.float32).numpy()
    prob = np.asarray(prob_map, dtype=np.float32)
    while prob.ndim > 2 and prob.shape[0] == 1:
        prob = prob[0]
    if prob.ndim != 2 or prob.size == 0:
        raise ValueError(f"prob_map must be (H, W) (or with leading 1s), got {np.shape(prob_map)}")
    # NaN would pass no threshold test and poison the mask prompt; treat it as background.
    return np.nan_to_num(prob, nan=0.0, posinf=1.0, neginf=0.0)


def _components(
    prob: np.ndarray, config: PromptConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Map-space boxes (N, 4), points (N, 2), mean scores (N,) and areas (N,), largest first."""
    binary = (prob > config.threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    # Label 0 is the background. A stable sort keeps raster order among equal areas.
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = [int(i) + 1 for i in np.argsort(-areas, kind="stable")]
    kept = [k for k in order if stats[k, cv2.CC_STAT_AREA] >= config.min_area]
    kept = kept[: config.max_components]

    boxes = np.zeros((len(kept), 4), dtype=np.float32)
    points = np.zeros((len(kept), 2), dtype=np.float32)
    scores = np.zeros(len(kept), dtype=np.float32)
    for n, k in enumerate(kept):
        x, y, w, h = (int(v) for v in stats[k, :4])
        boxes[n] = (x, y, x + w, y + h)  # pixel edges: x + w is the right edge of the last column
        on_component = labels[y : y + h, x : x + w] == k
        window = prob[y : y + h, x : x + w]
        # Peak over this component only (another component may share the bounding box).
        peak = int(np.argmax(np.where(on_component, window, -1.0)))
        row, col = divmod(peak, w)
        points[n] = (x + col + 0.5, y + row + 0.5)
        scores[n] = float(window[on_component].mean())
    return boxes, points, scores, stats[kept, cv2.CC_STAT_AREA].astype(np.int64)


def _scale_matrix(sx: float, sy: float) -> np.ndarray:
    """cv2 affine matrix for x' = sx * x in pixel-edge coordinates.

    cv2 indexes pixel centres, so x_edge = j + 0.5 gives j' = sx * j + (sx - 1) / 2.
    """
    return np.float32([[sx, 0.0, 0.5 * (sx - 1.0)], [0.0, sy, 0.5 * (sy - 1.0)]])


def _mask_prompt(prob: np.ndarray, geometry: PromptGeometry, config: PromptConfig) -> np.ndarray:
    """(M, M) float32 logits of `prob` placed into SAM's padded low-res mask space."""
    side = geometry.mask_size
    newh, neww = geometry.input_size
    # Extent of the image part in the low-res grid (fractional in general, e.g. 891 / 4).
    target_h = newh * side / geometry.image_size
    target_w = neww * side / geometry.image_size
    source = prob
    if source.shape[0] > 2 * target_h or source.shape[1] > 2 * target_w:
        # A bilinear warp aliases past 2x shrink; area-average first to about 2x the target. The
        # warp scale below uses this resized size, so the geometry stays exact.
        size = (max(1, math.ceil(2 * target_w)), max(1, math.ceil(2 * target_h)))
        source = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
    sx, sy = target_w / source.shape[1], target_h / source.shape[0]
    # Replicate, not zero, at the map's edge: a blob touching the frame border must stay positive
    # up to it. Then the padding (low-res pixels whose centre lies outside the image part) gets
    # p = 0, the lowest logit.
    placed = cv2.warpAffine(
        source,
        _scale_matrix(sx, sy),
        (side, side),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    centres = np.arange(side) + 0.5
    placed[centres >= target_h, :] = 0.0
    placed[:, centres >= target_w] = 0.0
    placed = np.clip(placed, 0.0, 1.0)
    with np.errstate(divide="ignore"):
        logits = np.log(placed) - np.log1p(-placed)
    logits -= math.log(config.threshold / (1.0 - config.threshold))
    return np.clip(logits, -config.mask_logit_clip, config.mask_logit_clip).astype(np.float32)
