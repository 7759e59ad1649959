"""SUN-SEG benchmark evaluation: per-frame measures, the video protocol, and prediction."""

from .frame_metrics import THRESHOLDS, FrameScores, prepare_frame, score_frame, threshold_curves
from .protocol import METRIC_ORDER, Report, VideoFrames, VideoScores, score_videos

__all__ = [
    "METRIC_ORDER",
    "THRESHOLDS",
    "FrameScores",
    "Report",
    "VideoFrames",
    "VideoScores",
    "prepare_frame",
    "score_frame",
    "score_videos",
    "threshold_curves",
]
