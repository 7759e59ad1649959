"""A thin strip under the video: polyp presence over the last ~30 s, newest at the right."""

from __future__ import annotations

from collections import deque

from PyQt6.QtCore import QRectF, QSize
from PyQt6.QtGui import QColor, QPainter, QPaintEvent
from PyQt6.QtWidgets import QSizePolicy, QWidget

from .overlay import OverlayMode

WINDOW_S = 30.0
HEIGHT = 12
ABSENT = QColor("#3a3a3a")
NO_RESULT = QColor("#111111")
STALE = QColor(255, 191, 0)  # the overlay's amber


class PresenceStrip(QWidget):
    """Each frame adds (time, state); the strip paints the last WINDOW_S seconds."""

    def __init__(self, present_color: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.present_color = present_color
        self.samples: deque[tuple[float, QColor]] = deque()
        self.setFixedHeight(HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setToolTip(f"polyp presence over the last {WINDOW_S:.0f} s")

    def add(self, t: float, polyp: bool | None, mode: OverlayMode) -> None:
        """t: the frame's capture time (s); polyp: the shown result says a polyp is there."""
        if polyp is None or mode in (OverlayMode.WAITING, OverlayMode.OFF):
            color = NO_RESULT
        elif not polyp:
            color = ABSENT
        else:
            color = STALE if mode is OverlayMode.STALE else self.present_color
        if self.samples and t < self.samples[-1][0]:
            self.samples.clear()  # a new stream (loop, reconnect) restarted the clock
        self.samples.append((t, color))
        while self.samples and self.samples[0][0] < t - WINDOW_S - 1.0:
            self.samples.popleft()
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(400, HEIGHT)

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), NO_RESULT)
        if self.samples:
            now = self.samples[-1][0]
            scale = self.width() / WINDOW_S
            samples = list(self.samples)
            for (t, color), (t_next, _) in zip(samples, samples[1:] + [(now, None)], strict=True):
                left = self.width() - (now - t) * scale
                right = max(left + 1.0, self.width() - (now - t_next) * scale)
                painter.fillRect(QRectF(left, 1.0, right - left, self.height() - 2.0), color)
        painter.end()
