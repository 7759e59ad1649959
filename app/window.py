"""The display stage: a PyQt6 window that shows the newest annotated frame at the source rate.

Errors (model failing, device lost, recording stopped) show in a red banner; transient notices
(overlay on, mask threshold 0.55, snapshot saved) in a neutral box; both float over the video, as
does the help panel (H), so the picture never moves.
"""

from __future__ import annotations

import threading

from PyQt6.QtCore import QSize, Qt, QTimer
from PyQt6.QtGui import QCloseEvent, QColor, QKeyEvent
from PyQt6.QtWidgets import QApplication, QLabel, QMainWindow, QVBoxLayout, QWidget

from .elided_label import ElidedLabel
from .help_text import HINT, help_html
from .pipeline import LivePipeline, ShownFrame
from .presence_strip import PresenceStrip
from .status import status_line
from .video_view import Anchor, VideoView

POLL_MS = 5  # the display polls the frame channel; the source sets the pace
MIN_VIDEO_WIDTH = 960  # a small source is shown at least this wide where the screen allows
SCREEN_SHARE = 0.9  # the window opens at most this share of the screen
ERROR_STYLE = "background:#b00020; color:white; padding:4px 8px; font-weight:bold;"
NOTICE_STYLE = (
    "background:rgba(24,24,24,210); color:#f0f0f0; padding:5px 12px; border-radius:4px;"
)
HELP_STYLE = (
    "background:rgba(16,16,16,225); color:#e8e8e8; padding:12px 16px; border-radius:6px;"
)


def initial_size(frame: QSize, available: QSize, chrome_height: int) -> QSize:
    """The window's first size: the video at least MIN_VIDEO_WIDTH wide (never smaller than its
    own size), aspect kept, shrunk to fit SCREEN_SHARE of the screen; plus the bars below it."""
    limit = QSize(
        int(available.width() * SCREEN_SHARE),
        max(1, int(available.height() * SCREEN_SHARE) - chrome_height),
    )
    width = max(frame.width(), MIN_VIDEO_WIDTH)
    video = QSize(width, round(width * frame.height() / max(1, frame.width())))
    if video.width() > limit.width() or video.height() > limit.height():
        video = video.scaled(limit, Qt.AspectRatioMode.KeepAspectRatio)
    return QSize(video.width(), video.height() + chrome_height)


def _floating_label(style: str) -> QLabel:
    label = QLabel()
    label.setStyleSheet(style)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
    label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    label.hide()
    return label


class LiveWindow(QMainWindow):
    """Video (with banner, notice and help floating over it), presence strip, status line and
    key hint; keyboard shortcuts drive the pipeline."""

    def __init__(self, pipeline: LivePipeline, stop: threading.Event | None = None) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.stop = stop or threading.Event()
        self.frames_shown = 0
        self.last_shown: ShownFrame | None = None
        self.setWindowTitle(f"polyp-live \u2014 {pipeline.source.spec.text}")
        self.view = VideoView()
        self.banner = _floating_label(ERROR_STYLE)
        self.notice = _floating_label(NOTICE_STYLE)
        self.help_panel = _floating_label(HELP_STYLE)
        self.help_panel.setTextFormat(Qt.TextFormat.RichText)
        self.help_panel.setAlignment(Qt.AlignmentFlag.AlignLeft)
        self.view.float_widget(self.banner, Anchor.TOP)
        self.view.float_widget(self.notice, Anchor.BOTTOM)
        self.view.float_widget(self.help_panel, Anchor.CENTER)
        self.strip = PresenceStrip(QColor(pipeline.config.overlay_color))
        self.status = ElidedLabel("background:#202020; color:#e0e0e0; padding:2px 6px;")
        self.hint = ElidedLabel("background:#202020; color:#9a9a9a; padding:2px 6px;")
        self.hint.setText(HINT)
        layout = QVBoxLayout()
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        for widget, stretch in ((self.view, 1), (self.strip, 0), (self.status, 0),
                                (self.hint, 0)):
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
        available = screen.availableSize() if screen is not None else QSize(1280, 800)
        chrome = sum(w.sizeHint().height() for w in (self.strip, self.status, self.hint))
        return initial_size(QSize(width, height), available, chrome)

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
            self._show(shown)
            self.strip.add(shown.timestamp, shown.record.polyp, shown.mode)
        elif self.pipeline.capture.paused and (again := self.pipeline.redraw_with_newer_result()):
            self._show(again)  # the paused frame gets its own mask once the model has it
        self._set_floating(self.banner, self.pipeline.problem())
        self._set_floating(self.notice, self.pipeline.notice())

    def _show(self, shown: ShownFrame) -> None:
        self.last_shown = shown
        self.view.set_frame(shown.image)
        self.status.setText(status_line(shown.status))

    def _set_floating(self, label: QLabel, text: str) -> None:
        if text != label.text():
            label.setText(text)
            self.view.place_floating()
        label.setVisible(bool(text))

    def _redraw_if_paused(self) -> None:
        """While paused no new frame comes: draw the one on screen again with the new setting."""
        if self.pipeline.capture.paused and (shown := self.pipeline.redraw()) is not None:
            self._show(shown)

    def toggle_help(self) -> None:
        if self.help_panel.isVisible():
            self.help_panel.hide()
            return
        self._fill_help()
        self.help_panel.show()

    def _fill_help(self) -> None:
        config = self.pipeline.config
        self.help_panel.setText(help_html(
            config.overlay_color, config.stale_after_s, config.hide_after_s,
            self.pipeline.mask_threshold,
        ))
        self.view.place_floating()

    def keyPressEvent(self, event: QKeyEvent | None) -> None:  # noqa: N802 - Qt's name
        if event is None:
            return
        key, pipeline = event.key(), self.pipeline
        if key == Qt.Key.Key_Space:
            pipeline.toggle_pause()
        elif key == Qt.Key.Key_O:
            pipeline.notify(f"overlay {'on' if pipeline.toggle_overlay() else 'off'}")
            self._redraw_if_paused()
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
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal, Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            step = +1 if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal) else -1
            pipeline.notify(f"mask threshold {pipeline.change_mask_threshold(step):.2f}")
            self._redraw_if_paused()
            if self.help_panel.isVisible():
                self._fill_help()  # it states the mask threshold
        elif key == Qt.Key.Key_H:
            self.toggle_help()
        elif key == Qt.Key.Key_Escape and self.help_panel.isVisible():
            self.help_panel.hide()
        elif key == Qt.Key.Key_Escape and self.isFullScreen():
            self.showNormal()
        elif key in (Qt.Key.Key_Q, Qt.Key.Key_Escape):
            self.close()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802 - Qt's name
        self.timer.stop()
        # `stop` is set by SIGINT/SIGTERM (app/main.py); a closed window or Q is the user.
        self.pipeline.close("signal" if self.stop.is_set() else "user")
        if event is not None:
            event.accept()


def run_window(pipeline: LivePipeline, stop: threading.Event) -> int:
    """Runs the Qt event loop until the window closes or `stop` is set; returns frames shown."""
    app = QApplication.instance() or QApplication(["polyp-live"])
    window = LiveWindow(pipeline, stop)
    window.start()
    app.exec()
    return window.frames_shown
