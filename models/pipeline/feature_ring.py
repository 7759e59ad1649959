"""A fixed-capacity ring buffer of per-frame features with an anchor slot, for streaming PNS+.

Each item is a tuple of tensors (for PNS+: the frame's low- and high-level features). Storage is
preallocated on the first push, on the items' device, so a stream never grows memory.
"""

from __future__ import annotations

import torch

Item = tuple[torch.Tensor, ...]


class FeatureRing:
    """The last `capacity` items, oldest first, plus an anchor item.

    Start of stream: the first item fills every slot (the window is padded by repeating the
    stream's earliest frame, as offline inference would) and becomes the anchor.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._storage: list[torch.Tensor] | None = None  # each (capacity, *field_shape)
        self._anchor: Item | None = None
        self._next = 0  # slot the next push writes
        self._count = 0  # real (not padded) items since reset, capped at capacity

    def __len__(self) -> int:
        """Number of real items in the window (0 after reset, at most `capacity`)."""
        return self._count

    @property
    def anchor(self) -> Item | None:
        """The anchor item (copies, unaffected by later pushes), or None before the first push."""
        return self._anchor

    def push(self, item: Item) -> None:
        """Adds the newest item; each field has a leading batch dim of 1, e.g. (1, C, h, w)."""
        if self._storage is None or self._count == 0:
            self._storage = [f.expand(self.capacity, *f.shape[1:]).clone() for f in item]
            self._next = 1 % self.capacity
            self._count = 1
            if self._anchor is None:
                self._anchor = tuple(field.clone() for field in item)
            return
        if len(item) != len(self._storage):
            raise ValueError(f"items have {len(self._storage)} fields, got {len(item)}")
        for store, field in zip(self._storage, item, strict=True):
            store[self._next].copy_(field[0])
        self._next = (self._next + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)

    def window(self) -> Item:
        """The window oldest first: each field (1, capacity, *field_shape)."""
        if self._storage is None or self._count == 0:
            raise RuntimeError("the ring buffer is empty; push a frame first")
        order = [(self._next + i) % self.capacity for i in range(self.capacity)]
        index = torch.tensor(order, device=self._storage[0].device)
        return tuple(store.index_select(0, index).unsqueeze(0) for store in self._storage)

    def newest(self) -> Item:
        """The most recent item, each field (1, *field_shape)."""
        if self._storage is None or self._count == 0:
            raise RuntimeError("the ring buffer is empty; push a frame first")
        last = (self._next - 1) % self.capacity
        return tuple(store[last : last + 1] for store in self._storage)

    def refresh_anchor(self) -> None:
        """Makes the newest item the anchor (before any push: the next item will be)."""
        self._anchor = (
            tuple(field.clone() for field in self.newest()) if self._count else None
        )

    def reset(self) -> None:
        """Forgets the stream: the next push becomes the anchor and fills the window."""
        self._anchor = None
        self._count = 0
        self._next = 0
