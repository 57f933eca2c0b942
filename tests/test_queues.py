"""LabelQueue: a FIFO ring buffer of past labels for any batch size, saved in the state dict."""

from __future__ import annotations

from collections import deque

import pytest
import torch

from gtloc.model.queues import LabelQueue


def rows(start: int, n: int, dim: int = 2) -> torch.Tensor:
    """Rows whose first column counts ``start, start+1, ...`` so every row is recognisable."""
    ids = torch.arange(start, start + n, dtype=torch.float32)[:, None]
    return torch.cat([ids, -ids.repeat(1, dim - 1)], dim=1)


def fifo_order(queue: LabelQueue) -> torch.Tensor:
    """The queue's rows from oldest to newest (the oldest sits at ``ptr`` once the ring is full)."""
    if int(queue.count) < queue.capacity:
        return queue.items[: int(queue.count)]
    return torch.roll(queue.items, -int(queue.ptr), dims=0)


@pytest.mark.parametrize("capacity", [1, 5, 8])
@pytest.mark.parametrize("sizes", [[1] * 12, [3, 3, 3, 3], [2, 7, 1, 4], [13, 2], [5, 5, 5], [0, 4, 0, 9]])
def test_matches_a_reference_fifo_for_any_batch_sizes(capacity, sizes):
    queue, reference = LabelQueue(capacity, 2), deque(maxlen=capacity)
    start = 0
    for n in sizes:
        batch = rows(start, n)
        queue.push(batch)
        reference.extend(batch.tolist())
        start += n
        assert int(queue.count) == len(reference)
        assert fifo_order(queue).tolist() == list(reference)
        assert sorted(queue.contents().tolist()) == sorted(reference)


def test_wrap_around_by_hand():
    queue = LabelQueue(5, 1)
    queue.push(rows(0, 3, dim=1))
    assert queue.items[:, 0].tolist() == [0, 1, 2, 0, 0] and int(queue.ptr) == 3 and int(queue.count) == 3
    queue.push(rows(3, 4, dim=1))
    assert queue.items[:, 0].tolist() == [5, 6, 2, 3, 4] and int(queue.ptr) == 2 and int(queue.count) == 5
    assert queue.contents()[:, 0].tolist() == [5, 6, 2, 3, 4]


def test_batch_larger_than_capacity_keeps_its_last_rows():
    queue = LabelQueue(4, 2)
    queue.push(rows(0, 10))
    assert sorted(queue.contents()[:, 0].tolist()) == [6, 7, 8, 9]
    queue.push(rows(100, 2))  # ptr moves on: 6 and 7 are the oldest and go first
    assert sorted(queue.contents()[:, 0].tolist()) == [8, 9, 100, 101]
    queue.push(rows(200, 9))
    assert fifo_order(queue)[:, 0].tolist() == [205, 206, 207, 208]


def test_capacity_zero_holds_nothing():
    queue = LabelQueue(0, 5)
    queue.push(rows(0, 7, dim=5))
    assert queue.contents().shape == (0, 5)
    assert int(queue.count) == 0 and int(queue.ptr) == 0


def test_negative_capacity_is_refused():
    with pytest.raises(ValueError, match="queue capacity must be >= 0, got -1"):
        LabelQueue(-1, 2)


def test_empty_contents_then_filled_shape_and_dtype():
    queue = LabelQueue(6, 5)
    assert queue.contents().shape == (0, 5)
    queue.push(torch.ones(4, 5, dtype=torch.float64, requires_grad=True))
    assert queue.contents().shape == (4, 5)
    assert queue.contents().dtype == torch.float32 and not queue.contents().requires_grad


def test_state_dict_round_trip_continues_identically():
    a = LabelQueue(5, 2)
    a.push(rows(0, 7))
    state = a.state_dict()
    assert set(state) == {"items", "ptr", "count"}
    b = LabelQueue(5, 2)
    b.load_state_dict(state)
    torch.testing.assert_close(b.items, a.items, rtol=0, atol=0)
    assert int(b.ptr) == int(a.ptr) and int(b.count) == int(a.count)
    a.push(rows(50, 3))
    b.push(rows(50, 3))
    assert fifo_order(a).tolist() == fifo_order(b).tolist()
