"""The display stage: a PyQt6 window that shows the newest annotated frame at the source rate."""

from __future__ import annotations

import threading

import numpy as np
from PyQt6.QtCore import QRect, QSize, Qt, QTimer
from PyQt6.QtGui import QCloseEvent, QImage, QKeyEvent, QPainter, QPaintEvent
from PyQt6.QtWidgets import QApplication, QLabel, QMainWindow, QVBoxLayout, QWidget

from .pipeline import LivePipeline, ShownFrame
from .status import status_line

HELP = (
    "Space pause  \u00b7  O overlay  \u00b7  R record  \u00b7  S snapshot  \u00b7  "
    "F full screen  \u00b7  +/- threshold  \u00b7  H help  \u00b7  Q quit"
)
POLL_MS = 5  # the display polls the frame channel; the source sets the pace


class VideoView(QWidget):
    """Paints a BGR frame scaled to fit, aspect ratio kept, letterboxed in black."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(160, 120)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._buffer: np.ndarray | None = None
        self._image: QImage | None = None

    def set_frame(self, image: np.ndarray) -> None:
        """Shows (H, W, 3) uint8 BGR; the array is kept alive while Qt paints it."""
        buffer = np.ascontiguousarray(image)
        height, width = buffer.shape[:2]
        self._buffer = buffer
        self._image = QImage(buffer.data, width, height, 3 * width, QImage.Format.Format_BGR888)
        self.update()

    def image_rect(self) -> QRect:
        """Where the frame lands in the widget: the largest rectangle of the frame's aspect."""
        if self._image is None:
            return QRect()
        frame = QSize(self._image.width(), self._image.height())
        fitted = frame.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        left = (self.width() - fitted.width()) // 2
        top = (self.height() - fitted.height()) // 2
        return QRect(left, top, fitted.width(), fitted.height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        if self._image is None:
            return QSize(768, 576)
        return QSize(self._image.width(), self._image.height())

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.image_rect(), self._image)
        painter.end()


def _label(style: str) -> QLabel:
    label = QLabel()
    label.setStyleSheet(style)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
    label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    label.setWordWrap(True)  # long lines wrap rather than set a minimum window width
    return label


class LiveWindow(QMainWindow):
    """Banner, video, status line and key help; keyboard shortcuts drive the pipeline."""

    def __init__(self, pipeline: LivePipeline, stop: threading.Event | None = None) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.stop = stop or threading.Event()
        self.frames_shown = 0
        self.last_shown: ShownFrame | None = None
        self.setWindowTitle(f"polyp-live \u2014 {pipeline.source.spec.text}")
        self.banner = _label("background:#b00020; color:white; padding:4px; font-weight:bold;")
        self.banner.hide()
        self.view = VideoView()
        self.status = _label("background:#202020; color:#e0e0e0; padding:2px 6px;")
        self.help = _label("background:#202020; color:#9a9a9a; padding:2px 6px;")
        self.help.setText(HELP)
        layout = QVBoxLayout()
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        for widget, stretch in ((self.banner, 0), (self.view, 1), (self.status, 0), (self.help, 0)):
            layout.addWidget(widget, stretch)
        central = QWidget()
        central.setLayout(layout)
        central.setStyleSheet("background:black;")
        self.setCentralWidget(central)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.resize(self._initial_size())
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)

    def _initial_size(self) -> QSize:
        width, height = self.pipeline.source.frame_size or (768, 576)
        screen = QApplication.primaryScreen()
        limit = screen.availableSize() * 0.9 if screen is not None else QSize(1280, 800)
        size = QSize(width, height).scaled(limit, Qt.AspectRatioMode.KeepAspectRatio)
        if width <= limit.width() and height <= limit.height():
            size = QSize(width, height)
        return QSize(size.width(), size.height() + 60)

    def start(self) -> None:
        """Starts the pipeline and the display clock; shows the window."""
        self.pipeline.start()
        self.timer.start(POLL_MS)
        if self.pipeline.config.fullscreen:
            self.showFullScreen()
        else:
            self.show()

    def _tick(self) -> None:
        if self.stop.is_set():
            self.close()
            return
        shown = self.pipeline.poll()
        if shown is not None:
            self.frames_shown += 1
            self.last_shown = shown
            self.view.set_frame(shown.image)
            self.status.setText(status_line(shown.status))
        self._set_banner(self.pipeline.banner())

    def _set_banner(self, text: str) -> None:
        if text != self.banner.text():
            self.banner.setText(text)
        self.banner.setVisible(bool(text))

    def keyPressEvent(self, event: QKeyEvent | None) -> None:  # noqa: N802 - Qt's name
        if event is None:
            return
        key, pipeline = event.key(), self.pipeline
        if key == Qt.Key.Key_Space:
            pipeline.toggle_pause()
        elif key == Qt.Key.Key_O:
            pipeline.notify(f"overlay {'on' if pipeline.toggle_overlay() else 'off'}")
        elif key == Qt.Key.Key_R:
            pipeline.toggle_recording()
            if not pipeline.recording:
                pipeline.notify("recording stopped")
        elif key == Qt.Key.Key_S:
            pipeline.snapshot()
        elif key == Qt.Key.Key_F:
            if self.isFullScreen():
                self.showNormal()
            else:
                self.showFullScreen()
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            pipeline.notify(f"threshold {pipeline.change_threshold(+1):.2f}")
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            pipeline.notify(f"threshold {pipeline.change_threshold(-1):.2f}")
        elif key == Qt.Key.Key_H:
            self.help.setVisible(not self.help.isVisible())
        elif key == Qt.Key.Key_Escape and self.isFullScreen():
            self.showNormal()
        elif key in (Qt.Key.Key_Q, Qt.Key.Key_Escape):
            self.close()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802 - Qt's name
        self.timer.stop()
        self.pipeline.close()
        if event is not None:
            event.accept()


def run_window(pipeline: LivePipeline, stop: threading.Event) -> int:
    """Runs the Qt event loop until the window closes or `stop` is set; returns frames shown."""
    app = QApplication.instance() or QApplication(["polyp-live"])
    window = LiveWindow(pipeline, stop)
    window.start()
    app.exec()
    return window.frames_shown
