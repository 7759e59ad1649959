"""The session timeline as a PNG: polyp score and presence over time, episodes shaded, dropped
frames and stale stretches marked.

matplotlib's object API with the Agg canvas, not pyplot: no display, no global backend switch
in the viewer's process, and safe on the recorder's thread.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .session import FrameColumns, RecordedSession

EPISODE_COLOR = "#2ca02c"
STALE_COLOR = "#ffbf00"  # the overlay's amber
DROP_COLOR = "#d62728"


def dropped_times(frames: FrameColumns) -> np.ndarray:
    """Times of the frames that follow a gap in the session's frame counter (frames never
    recorded; source positions restart when a file loops, the counter does not)."""
    return frames.t[1:][np.diff(frames.counter) > 1]


def timeline_png(session: RecordedSession, width_in: float = 11.0, dpi: int = 100) -> bytes:
    """The timeline figure of `session`, PNG bytes."""
    frames = session.frames
    t, score, present, stale = frames.t, frames.score, frames.present, frames.stale
    end = max(float(session.summary.get("duration_s", 0.0)), float(t[-1]) if len(t) else 1.0)

    figure = Figure(figsize=(width_in, 3.4), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    axis = figure.add_subplot()
    for number, episode in enumerate(session.summary.get("episodes", []), start=1):
        axis.axvspan(episode["start_s"], max(episode["end_s"], episode["start_s"] + 0.02),
                     color=EPISODE_COLOR, alpha=0.15, lw=0)
        axis.text(episode["start_s"], 1.12, f" #{number}", color="#1a6e1a", fontsize=9,
                  va="bottom")
    if len(t):
        axis.plot(t, score, color="#1f77b4", lw=1.4, label="polyp score")
        axis.fill_between(t, -0.12, -0.03, where=present, step="post", color=EPISODE_COLOR,
                          lw=0, label="polyp present")
        axis.fill_between(t, 1.03, 1.11, where=stale, step="post", color=STALE_COLOR, lw=0,
                          label="overlay stale / off")
    drops = dropped_times(frames)
    if len(drops):
        axis.vlines(drops, -0.15, 1.12, color=DROP_COLOR, lw=0.8, label="dropped frames")
    axis.set_xlim(0.0, end)
    axis.set_ylim(-0.16, 1.2)
    axis.set_yticks([0.0, 0.25, 0.5, 0.75, 1.0])
    axis.set_xlabel("time in the recording (s)")
    axis.set_ylabel("score")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, ncols=4, frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
