"""Ring buffer and window framing: wrap-around, oversize blocks, and a reference model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.audio.ringbuffer import RingBuffer


def reference_windows(signal: np.ndarray, window: int, hop: int) -> list[tuple[int, np.ndarray]]:
    """The obvious definition: every complete window of the whole signal."""
    return [(s, signal[s : s + window]) for s in range(0, len(signal) - window + 1, hop)]


def framed(ring: RingBuffer, blocks: list[np.ndarray], window: int, hop: int) -> list:
    """Feed blocks through ``frame`` and copy out every window (views die on the next write)."""
    return [(s, view.copy()) for block in blocks for s, view in ring.frame(block, window, hop)]


def test_read_across_wrap_is_a_contiguous_view():
    ring = RingBuffer(8)
    ring.write(np.arange(6, dtype=np.float32))
    ring.write(np.arange(6, 11, dtype=np.float32))  # positions 6,7 then wraps to 0..2
    view = ring.read(4, 7)
    np.testing.assert_array_equal(view, np.arange(4, 11))
    assert view.base is not None  # a view, not a copy
    assert ring.total_written == 11


def test_write_larger_than_capacity_keeps_the_newest():
    ring = RingBuffer(5)
    ring.write(np.arange(12, dtype=np.float32))
    np.testing.assert_array_equal(ring.read(7, 5), np.arange(7, 12))
    with pytest.raises(IndexError):
        ring.read(6, 2)  # overwritten
    with pytest.raises(IndexError):
        ring.read(10, 3)  # not written yet


def test_frame_handles_a_block_much_larger_than_capacity():
    signal = np.arange(10_000, dtype=np.float32)
    ring = RingBuffer(300)
    got = framed(ring, [signal], window=256, hop=64)
    want = reference_windows(signal, 256, 64)
    assert [s for s, _ in got] == [s for s, _ in want]
    for (_, a), (_, b) in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


def test_leftover_samples_carry_over_between_blocks():
    ring = RingBuffer(32)
    assert list(ring.frame(np.ones(10, np.float32), 16, 4)) == []
    starts = [s for s, _ in ring.frame(np.ones(10, np.float32), 16, 4)]
    assert starts == [0, 4]  # 20 samples: windows at 0 and 4 complete
    assert ring.next_window_start == 8


def test_hop_longer_than_window_skips_samples():
    signal = np.arange(100, dtype=np.float32)
    got = framed(RingBuffer(16), [signal[:33], signal[33:]], window=10, hop=25)
    assert [s for s, _ in got] == [0, 25, 50, 75]
    np.testing.assert_array_equal(got[-1][1], signal[75:85])


def test_windows_refuses_to_yield_an_overwritten_window():
    ring = RingBuffer(16)
    ring.write(np.zeros(40, np.float32))  # bypassing frame(): window 0 is gone
    with pytest.raises(IndexError):
        list(ring.windows(8, 4))


def test_bad_framing_is_rejected():
    ring = RingBuffer(16)
    with pytest.raises(ValueError):
        list(ring.frame(np.zeros(4, np.float32), 17, 4))  # window > capacity
    with pytest.raises(ValueError):
        list(ring.frame(np.zeros(4, np.float32), 8, 0))


@settings(max_examples=150, deadline=None)
@given(
    window=st.integers(1, 40),
    hop=st.integers(1, 50),
    extra_capacity=st.integers(0, 30),
    block_sizes=st.lists(st.integers(0, 120), min_size=1, max_size=25),
)
def test_any_blocking_gives_the_reference_windows(window, hop, extra_capacity, block_sizes):
    signal = np.random.default_rng(0).standard_normal(sum(block_sizes)).astype(np.float32)
    blocks = np.split(signal, np.cumsum(block_sizes)[:-1])
    got = framed(RingBuffer(window + extra_capacity), blocks, window, hop)
    want = reference_windows(signal, window, hop)
    assert [s for s, _ in got] == [s for s, _ in want]
    for (_, a), (_, b) in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)
