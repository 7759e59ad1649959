"""The report page: one HTML file with everything inline (images as data: URIs, no scripts or
styles from elsewhere), so it opens anywhere, offline, and can be mailed as one file."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from ..session_log import write_text_private
from .session import RecordedSession, load_session
from .thumbnails import frame_at, thumbnail_jpeg
from .timeline import timeline_png

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1120px;
       color: #1d1d1f; background: #fff; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; } td, th { padding: 4px 12px; text-align: left; }
table.episodes td, table.episodes th { border-bottom: 1px solid #ddd; text-align: right; }
table.facts th { color: #555; font-weight: normal; }
.timeline { width: 100%; border: 1px solid #ddd; }
.thumbs { display: flex; flex-wrap: wrap; gap: 14px; margin-bottom: 16px; }
figure { margin: 0; } figure img { display: block; border: 1px solid #ccc; }
figcaption { font-size: 13px; color: #444; }
video { max-width: 100%; background: #000; }
.muted { color: #666; font-size: 13px; }
"""

# Thumbnails link to the video at their time (`#t=` media fragment); where the page's own <video>
# can play the file, a click seeks it in place instead.
SCRIPT = """
function seek(link) {
  var video = document.getElementById('video');
  if (!video || video.error || video.readyState === 0) return true;
  video.currentTime = parseFloat(link.dataset.t);
  video.scrollIntoView({behavior: 'smooth'});
  video.play();
  return false;
}
"""


def _data_uri(kind: str, data: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _number(value: Any, digits: int, unit: str = "") -> str:
    if value is None:
        return "\u2014"
    return f"{value:.{digits}f}{unit}"


def _facts(summary: dict[str, Any]) -> list[tuple[str, str]]:
    p50, p95 = summary.get("latency_ms_p50"), summary.get("latency_ms_p95")
    return [
        ("source", str(summary.get("source") or "\u2014")),
        ("model", str(summary.get("model") or "\u2014")),
        ("back end", str(summary.get("backend") or "\u2014")),
        ("model rate (results shown)", _number(summary.get("model_fps"), 2, " fps")),
        ("latency p50 / p95", f"{_number(p50, 1, ' ms')} / {_number(p95, 1, ' ms')}"),
        ("frames", str(summary.get("frames"))),
        ("dropped frames", str(summary.get("dropped_frames"))),
        ("duration", _number(summary.get("duration_s"), 3, " s")),
        ("recording rate", _number(summary.get("fps"), 2, " fps")),
        ("started", str(summary.get("started", ""))),
        ("stopped by", str(summary.get("stopped_by", ""))),
    ]


def _peak_time(session: RecordedSession, episode: dict[str, Any]) -> float:
    """The time of the episode's frame with the largest mask (older summaries: from the log)."""
    if "peak_s" in episode:
        return float(episode["peak_s"])
    frames = session.frames
    inside = np.flatnonzero(
        (frames.frame >= episode["start_frame"]) & (frames.frame <= episode["end_frame"])
    )
    if not len(inside):
        return episode["start_s"]
    return float(frames.t[inside[np.argmax(frames.mask_area[inside])]])


def _episode_figure(
    session: RecordedSession, number: int, episode: dict[str, Any], video: Path | None
) -> str:
    t = _peak_time(session, episode)
    caption = f"#{number} \u00b7 {t:.2f} s"
    image = frame_at(video, t) if video is not None and video.is_file() else None
    if image is None:
        return f'<figure><figcaption>{caption} (no video frame)</figcaption></figure>'
    source = _data_uri("image/jpeg", thumbnail_jpeg(image))
    href = escape(f"{video.name}#t={t:.3f}")
    return (
        f'<figure class="episode" data-episode="{number}"><a href="{href}" data-t="{t:.3f}" '
        f'onclick="return seek(this)"><img src="{source}" alt="episode {number} at {t:.2f} s">'
        f"</a><figcaption>{caption}</figcaption></figure>"
    )


def _episode_rows(episodes: list[dict[str, Any]]) -> str:
    rows = []
    for number, e in enumerate(episodes, start=1):
        cells = [
            str(number), _number(e["start_s"], 3), _number(e["end_s"], 3),
            _number(e["end_s"] - e["start_s"], 3), _number(e.get("max_score"), 4),
            str(e.get("max_area", "\u2014")),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "\n".join(rows)


def build_report(session: RecordedSession) -> str:
    """The report of `session` as one self-contained HTML document."""
    summary = session.summary
    episodes = summary.get("episodes", [])
    video = session.path("annotated")
    facts = "\n".join(
        f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in _facts(summary)
    )
    figures = "\n".join(
        _episode_figure(session, n, e, video) for n, e in enumerate(episodes, start=1)
    ) or '<p class="muted">No polyp was detected in this session.</p>'
    timeline = _data_uri("image/png", timeline_png(session))
    player = ""
    if video is not None:
        player = (
            f'<h2>Recording</h2><video id="video" controls preload="metadata" '
            f'src="{escape(video.name)}"></video><p class="muted">{escape(video.name)} '
            "(if the browser cannot play it here, open it in a video player)</p>"
        )
    title = f"polyp-live session {session.stem}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{STYLE}</style><script>{SCRIPT}</script></head>
<body>
<h1>{escape(title)}</h1>
<p class="muted">{escape(str(summary.get("started", "")))} \u2013
{escape(str(summary.get("ended", "")))}</p>
<h2>Session</h2>
<table class="facts">
{facts}
</table>
<h2>Timeline</h2>
<img class="timeline" id="timeline" alt="polyp score and presence over time" src="{timeline}">
<p class="muted">Shaded: polyp episodes; green bar: polyp present; amber bar: overlay stale or
off (model behind); red lines: dropped frames.</p>
<h2>Polyp episodes ({len(episodes)})</h2>
<div class="thumbs">
{figures}
</div>
<table class="episodes">
<thead><tr><th>#</th><th>start (s)</th><th>end (s)</th><th>duration (s)</th>
<th>peak score</th><th>peak area (px)</th></tr></thead>
<tbody>
{_episode_rows(episodes)}
</tbody>
</table>
{player}
</body></html>
"""


def write_report(session_path: str | Path, out: str | Path | None = None) -> Path:
    """Writes the report of SESSION (user-only); default: `<stem>_report.html` beside it."""
    session = load_session(session_path)
    target = Path(out) if out is not None else session.folder / f"{session.stem}_report.html"
    write_text_private(target, build_report(session))
    return target
