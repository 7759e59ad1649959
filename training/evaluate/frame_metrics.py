"""Per-frame measures of the SUN-SEG evaluation toolbox.

Preparation (the toolbox's, and pysodmetrics's `prepare_data`): the prediction is resized to the
GT size with cv2.resize (bilinear), GT > 128, prediction / 255, then min-max normalised per frame
(left as is when constant). pysodmetrics then computes S-alpha (alpha 0.5), E-phi (256-threshold
curve), weighted F (beta^2 1, 7x7 Gaussian sigma 5), F-beta (beta^2 0.3, 256-threshold curve) and
MAE on the prepared frame. Dice, Sensitivity and IoU follow the toolbox's own `Medical` code,
which no library reproduces: thresholds np.linspace(1, 0, 256) applied as `pred >= t` to the
float map (pysodmetrics quantises to uint8 first), and 0 whenever TP = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import py_sod_metrics as sod

THRESHOLDS = np.linspace(1, 0, 256)


@dataclass(frozen=True)
class FrameScores:
    """Scores of one frame; curves have 256 entries (high threshold first)."""

    s_alpha: float
    weighted_f: float
    mae: float
    e_curve: np.ndarray
    f_curve: np.ndarray
    dice_curve: np.ndarray
    sen_curve: np.ndarray
    iou_curve: np.ndarray


def prepare_frame(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 grey prediction (any size) and uint8 grey GT -> float64 map in [0, 1], bool GT."""
    if pred.ndim != 2 or gt.ndim != 2:
        raise ValueError(f"expected grey images, got prediction {pred.shape} and GT {gt.shape}")
    if pred.shape != gt.shape:
        pred = cv2.resize(pred, (gt.shape[1], gt.shape[0]))
    prob = pred / 255
    low, high = prob.min(), prob.max()
    if high != low:
        prob = (prob - low) / (high - low)
    return prob, gt > 128


def threshold_curves(prob: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, ...]:
    """Dice, Sensitivity and IoU at each of THRESHOLDS with `prob >= t`.

    Counts come from one sort: the number of values >= t is n - searchsorted(sorted, t, 'left'),
    exactly the toolbox's comparison.
    """
    fg_values = np.sort(prob[gt], kind="stable")
    all_values = np.sort(prob, axis=None, kind="stable")
    tp = fg_values.size - np.searchsorted(fg_values, THRESHOLDS, side="left")
    predicted = all_values.size - np.searchsorted(all_values, THRESHOLDS, side="left")
    positives = fg_values.size
    hit = tp > 0
    tp_f = tp.astype(np.float64)
    dice = np.where(hit, 2 * tp_f / np.maximum(positives + predicted, 1), 0.0)
    sen = np.where(hit, tp_f / max(positives, 1), 0.0)
    iou = np.where(hit, tp_f / np.maximum(positives - tp + predicted, 1), 0.0)
    return dice, sen, iou


def score_frame(pred: np.ndarray, gt: np.ndarray) -> FrameScores:
    """All per-frame measures of a uint8 prediction against a uint8 GT (see module docstring)."""
    prob, mask = prepare_frame(pred, gt)
    s_measure = sod.Smeasure()
    e_measure = sod.Emeasure()
    weighted = sod.WeightedFmeasure()
    f_measure = sod.FmeasureV2({"fm": sod.FmeasureHandler(True, False, beta=0.3)})
    mae = sod.MAE()
    for metric in (s_measure, e_measure, weighted, f_measure, mae):
        metric.step(prob, mask, normalize=False)
    dice, sen, iou = threshold_curves(prob, mask)
    return FrameScores(
        s_alpha=float(s_measure.sms[-1]),
        weighted_f=float(weighted.weighted_fms[-1]),
        mae=float(mae.maes[-1]),
        e_curve=np.asarray(e_measure.changeable_ems[-1], np.float64),
        f_curve=np.asarray(f_measure.get_results()["fm"]["dynamic"], np.float64),
        dice_curve=dice,
        sen_curve=sen,
        iou_curve=iou,
    )
