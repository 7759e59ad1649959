"""The video widget: a BGR frame scaled to fit (aspect kept, letterboxed in black), with labels
floating over it (error banner, notices, help) so that showing them never moves the picture."""

from __future__ import annotations

from enum import Enum

import numpy as np
from PyQt6.QtCore import QRect, QSize, Qt
from PyQt6.QtGui import QImage, QPainter, QPaintEvent, QResizeEvent
from PyQt6.QtWidgets import QWidget

MARGIN = 12  # between a floating label and the edge of the view


class Anchor(str, Enum):
    """Where a floating label sits over the video."""

    TOP = "top"  # full width along the top edge
    BOTTOM = "bottom"  # centred near the bottom edge
    CENTER = "center"  # centred


class VideoView(QWidget):
    """Paints a BGR frame scaled to fit, aspect ratio kept, letterboxed in black."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(160, 120)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._buffer: np.ndarray | None = None
        self._image: QImage | None = None
        self._floating: list[tuple[QWidget, Anchor]] = []

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

    def float_widget(self, widget: QWidget, anchor: Anchor) -> None:
        """Shows `widget` over the video at `anchor` (outside any layout)."""
        widget.setParent(self)
        self._floating.append((widget, anchor))
        self.place_floating()

    def place_floating(self) -> None:
        """Puts each floating widget at its anchor for the current size and its own size hint."""
        inner = self.width() - 2 * MARGIN
        for widget, anchor in self._floating:
            if anchor is Anchor.TOP:
                widget.setGeometry(0, 0, self.width(), widget.heightForWidth(self.width())
                                   if widget.hasHeightForWidth() else widget.sizeHint().height())
                continue
            hint = widget.sizeHint()
            width = min(hint.width(), inner)
            height = widget.heightForWidth(width) if widget.hasHeightForWidth() else hint.height()
            height = min(height, self.height() - 2 * MARGIN)
            left = (self.width() - width) // 2
            top = (self.height() - height - MARGIN if anchor is Anchor.BOTTOM
                   else (self.height() - height) // 2)
            widget.setGeometry(left, max(0, top), width, height)
            widget.raise_()

    def resizeEvent(self, event: QResizeEvent | None) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.place_floating()

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
