"""The status of the stream as shown to the user: one small line and an optional banner."""

from __future__ import annotations

from dataclasses import dataclass

from .overlay import OverlayMode


@dataclass(frozen=True)
class StreamStatus:
    """A snapshot of the stream for the status line. Rates in frames/s, times in seconds."""

    source_fps: float = 0.0
    display_fps: float = 0.0
    model_fps: float = 0.0
    latency_ms: float | None = None
    backend: str = ""
    overlay: OverlayMode = OverlayMode.WAITING
    result_age_s: float | None = None
    mask_threshold: float | None = None
    recording: bool = False
    recording_s: float = 0.0
    paused: bool = False
    banner: str = ""  # a problem the user must see (model error, device lost, disk full)


def status_line(status: StreamStatus) -> str:
    """E.g. 'source 25.0 fps | model 2.1 fps | latency 480 ms | torch | overlay stale 0.6 s'."""
    parts = [f"source {status.source_fps:.1f} fps", f"model {status.model_fps:.1f} fps"]
    if status.latency_ms is not None:
        parts.append(f"latency {status.latency_ms:.0f} ms")
    if status.backend:
        parts.append(status.backend)
    overlay = f"overlay {status.overlay.value}"
    if status.overlay in (OverlayMode.STALE, OverlayMode.OFF) and status.result_age_s is not None:
        overlay += f" {status.result_age_s:.1f} s"
    parts.append(overlay)
    thr = "model" if status.mask_threshold is None else f"{status.mask_threshold:.2f}"
    parts.append(f"thr {thr}")
    if status.paused:
        parts.append("PAUSED")
    if status.recording:
        minutes, seconds = divmod(int(status.recording_s), 60)
        parts.append(f"\u25cf REC {minutes:02d}:{seconds:02d}")
    return " | ".join(parts)
