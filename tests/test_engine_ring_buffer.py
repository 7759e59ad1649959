"""FeatureRing: capacity, order, anchor, reset; and streaming PNS+ built on it."""

from __future__ import annotations

import pytest
import torch

from models.pipeline import FeatureRing


def item(value: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A two-field item whose fields are filled with `value` (and -value)."""
    return torch.full((1, 2, 3, 3), value), torch.full((1, 4, 2, 2), -value)


def values(ring: FeatureRing) -> list[float]:
    low, high = ring.window()
    assert low.shape == (1, ring.capacity, 2, 3, 3) and high.shape == (1, ring.capacity, 4, 2, 2)
    assert torch.equal(high, -low[:, :, :1, :2, :2].expand_as(high))  # fields stay paired
    return [float(low[0, i, 0, 0, 0]) for i in range(ring.capacity)]


def test_first_item_fills_the_window_and_becomes_the_anchor() -> None:
    ring = FeatureRing(5)
    assert len(ring) == 0 and ring.anchor is None
    ring.push(item(1.0))
    assert len(ring) == 1
    assert values(ring) == [1.0] * 5
    assert float(ring.anchor[0].flatten()[0]) == 1.0


def test_window_is_oldest_first_and_holds_the_last_capacity_items() -> None:
    ring = FeatureRing(5)
    for t in range(1, 13):
        ring.push(item(float(t)))
        expected = [float(max(1, i)) for i in range(t - 4, t + 1)]
        assert values(ring) == expected, t
        assert len(ring) == min(t, 5)
        assert float(ring.newest()[0].flatten()[0]) == t
    # The anchor is still the first item, not overwritten by the ring's wrap-around.
    assert float(ring.anchor[0].flatten()[0]) == 1.0


def test_anchor_is_a_copy_and_refresh_takes_the_newest() -> None:
    ring = FeatureRing(3)
    first = item(1.0)
    ring.push(first)
    first[0].fill_(99.0)  # the caller reusing its buffer must not change the stored anchor
    assert float(ring.anchor[0].flatten()[0]) == 1.0
    ring.push(item(2.0))
    ring.refresh_anchor()
    ring.push(item(3.0))
    assert float(ring.anchor[0].flatten()[0]) == 2.0
    assert values(ring) == [1.0, 2.0, 3.0]


def test_reset_starts_a_new_stream() -> None:
    ring = FeatureRing(4)
    for t in range(1, 7):
        ring.push(item(float(t)))
    ring.reset()
    assert len(ring) == 0 and ring.anchor is None
    with pytest.raises(RuntimeError, match="empty"):
        ring.window()
    ring.push(item(10.0))
    assert values(ring) == [10.0] * 4
    assert float(ring.anchor[0].flatten()[0]) == 10.0
    ring.refresh_anchor()
    ring.reset()
    ring.refresh_anchor()  # before any push: the next item will be the anchor
    ring.push(item(11.0))
    assert float(ring.anchor[0].flatten()[0]) == 11.0


def test_storage_is_fixed_however_long_the_stream() -> None:
    ring = FeatureRing(5)
    ring.push(item(0.0))
    storage = [s.data_ptr() for s in ring._storage]
    for t in range(200):
        ring.push(item(float(t)))
    assert [s.data_ptr() for s in ring._storage] == storage
    assert len(ring) == 5


def test_bad_capacity_and_items_are_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        FeatureRing(0)
    ring = FeatureRing(2)
    ring.push(item(1.0))
    with pytest.raises(ValueError, match="2 fields"):
        ring.push((torch.zeros(1, 2, 3, 3),))
