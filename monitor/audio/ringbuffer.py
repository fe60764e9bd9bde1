"""A fixed-capacity float32 ring buffer that frames a sample stream into windows.

Time is the sample index since stream start. Every sample is stored twice
(at ``i`` and ``i + capacity``) so that any stretch of up to ``capacity``
samples is one contiguous slice: windows come out as zero-copy views even
across the wrap point.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class RingBuffer:
    """The most recent ``capacity`` samples (float32 mono) of a stream.

    ``windows()`` yields each window of ``window_samples`` starting at
    ``0, hop_samples, 2 * hop_samples, ...`` exactly once, carrying samples
    that do not yet make a whole window over to the next block.
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, not {capacity}")
        self.capacity = capacity
        self._data = np.zeros(2 * capacity, dtype=np.float32)
        self._written = 0
        self._next_window = 0

    @property
    def total_written(self) -> int:
        """Samples written since the stream started (= sample index of the next one)."""
        return self._written

    @property
    def next_window_start(self) -> int:
        """Start sample of the next window :meth:`windows` will yield."""
        return self._next_window

    def write(self, samples: np.ndarray) -> None:
        """Append float32 mono ``samples``; only the last ``capacity`` are kept."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if len(samples) > self.capacity:
            self._written += len(samples) - self.capacity
            samples = samples[-self.capacity :]
        n = len(samples)
        pos = self._written % self.capacity
        first = min(n, self.capacity - pos)
        for offset in (0, self.capacity):  # the copy and its mirror
            self._data[offset + pos : offset + pos + first] = samples[:first]
            self._data[offset : offset + n - first] = samples[first:]
        self._written += n

    def read(self, start_sample: int, n_samples: int) -> np.ndarray:
        """View of samples ``[start_sample, start_sample + n_samples)``, valid until the next write.

        Raises ``IndexError`` if any of them is not yet written or already overwritten.
        """
        oldest = self._written - min(self._written, self.capacity)
        if start_sample < oldest or start_sample + n_samples > self._written or n_samples < 0:
            raise IndexError(
                f"samples {start_sample}..{start_sample + n_samples} not in buffer "
                f"({oldest}..{self._written})"
            )
        pos = start_sample % self.capacity
        return self._data[pos : pos + n_samples]

    def windows(self, window_samples: int, hop_samples: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(start_sample, view)`` for every complete window not yielded before.

        ``view`` is float32 ``[window_samples]`` and is valid until the next write.
        Use the same ``window_samples``/``hop_samples`` for the whole stream.
        """
        self._check_framing(window_samples, hop_samples)
        if self._next_window < self._written - self.capacity:
            raise IndexError(
                f"window at sample {self._next_window} was overwritten; write at most "
                "free_samples() between calls to windows() (or use frame())"
            )
        while self._next_window + window_samples <= self._written:
            yield self._next_window, self.read(self._next_window, window_samples)
            self._next_window += hop_samples

    def free_samples(self) -> int:
        """How many samples can be written without losing one a pending window needs."""
        pending = self._written - self._next_window
        return self.capacity - max(0, pending)

    def frame(
        self, block: np.ndarray, window_samples: int, hop_samples: int
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Write ``block`` (any length, even > capacity) and yield every window it completes.

        The block is written in pieces that fit, windows are yielded between
        pieces, so no window is lost however large the block. Each view is
        valid until the generator is resumed.
        """
        self._check_framing(window_samples, hop_samples)
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        done = 0
        while done < len(block):
            if self._next_window > self._written:  # hop > window: skip samples nobody needs
                skip = min(self._next_window - self._written, len(block) - done)
                self.write(block[done : done + skip])
                done += skip
                continue
            piece = min(self.free_samples(), len(block) - done)
            self.write(block[done : done + piece])
            done += piece
            yield from self.windows(window_samples, hop_samples)

    def _check_framing(self, window_samples: int, hop_samples: int) -> None:
        if not 0 < window_samples <= self.capacity:
            raise ValueError(
                f"window_samples {window_samples} must be in 1..capacity ({self.capacity})"
            )
        if hop_samples <= 0:
            raise ValueError(f"hop_samples must be positive, not {hop_samples}")
