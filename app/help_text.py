"""What the viewer tells a new user: the one-line key hint and the help panel shown on H."""

from __future__ import annotations

from html import escape

from .presence_strip import WINDOW_S

HINT = (
    "Space pause  \u00b7  O overlay  \u00b7  R record  \u00b7  S snapshot  \u00b7  "
    "F full screen  \u00b7  +/- mask threshold  \u00b7  H help  \u00b7  Q quit"
)
KEYS = [
    ("Space", "pause / resume (video files)"),
    ("O", "overlay on / off (also while paused)"),
    ("R", "start / stop recording"),
    ("S", "snapshot of the picture on screen (PNG)"),
    ("F", "full screen on / off (Esc leaves it)"),
    ("+ / \u2212", "mask threshold up / down by 0.05"),
    ("H", "this help on / off"),
    ("Q", "quit (recordings are closed cleanly)"),
]


def help_html(
    overlay_color: str, stale_after_s: float, hide_after_s: float, mask_threshold: float | None
) -> str:
    """The help panel's rich text for the current settings."""
    swatch = f'<span style="color:{escape(overlay_color)}">\u25a0</span>'
    amber = '<span style="color:#ffbf00">\u25a0</span>'
    keys = "".join(
        f'<tr><td style="padding-right:14px"><b>{escape(key)}</b></td><td>{escape(what)}</td></tr>'
        for key, what in KEYS
    )
    mask = (
        "the model's own mask"
        if mask_threshold is None
        else f"probability above {mask_threshold:.2f}"
    )
    return (
        f"<h3 style='margin:0 0 6px 0'>polyp-live help</h3><table>{keys}</table>"
        "<p style='margin:8px 0 2px 0'><b>What the overlay means</b></p>"
        f"{swatch} <b>overlay colour</b>: the model's mask, result under {stale_after_s:g} s "
        f"old<br>{amber} <b>amber, tagged STALE</b>: the result is {stale_after_s:g}\u2013"
        f"{hide_after_s:g} s old (the model is behind)<br>"
        f"<b>hidden, tagged OVERLAY OFF</b>: older than {hide_after_s:g} s or the model failed"
        f"<br><b>mask threshold</b>: {mask}"
        f"<p style='margin:8px 0 0 0'>The strip under the video: polyp present ({swatch} / "
        f"{amber} stale), none (grey), no result (black), last {WINDOW_S:.0f} s.</p>"
    )
