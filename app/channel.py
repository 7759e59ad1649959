"""A small bounded hand-off between two stages.

Live (`drop_oldest=True`): `put` never blocks; a full channel drops its oldest item and counts
it. Batch (`drop_oldest=False`): `put` waits for room, so a file is read no faster than it is
shown and recorded. `close()` wakes every waiter; later puts are discarded.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class FrameChannel(Generic[T]):
    """Bounded FIFO with drop-oldest (live) or back-pressure (batch) when full."""

    def __init__(self, capacity: int, drop_oldest: bool) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.drop_oldest = drop_oldest
        self.dropped = 0
        self._items: deque[T] = deque()
        self._closed = False
        self._cond = threading.Condition()

    def put(self, item: T) -> bool:
        """Adds `item`; False (item discarded) once the channel is closed."""
        with self._cond:
            if self.drop_oldest:
                if len(self._items) >= self.capacity:
                    self._items.popleft()
                    self.dropped += 1
            else:
                while len(self._items) >= self.capacity and not self._closed:
                    self._cond.wait()
            if self._closed:
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> T | None:
        """The oldest item, waiting up to `timeout` s; None if none came (or closed and empty)."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def get_latest(self, timeout: float | None = 0.0) -> T | None:
        """The newest item (waiting up to `timeout` s), discarding and counting older ones."""
        with self._cond:
            if not self._items and not self._closed and timeout != 0.0:
                self._cond.wait(timeout)
            if not self._items:
                return None
            item = self._items.pop()
            self.dropped += len(self._items)
            self._items.clear()
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
