"""Experiment (bench only, not product code): log-mel frames computed once per STFT hop.

The shipped graph takes raw windows, so with a hop of a quarter window every
sample goes through the front end four times. Here the front end runs once over the
stream instead, and windows are sliced out of the frame sequence:

* ``frontend`` (ONNX, ``center=False``): chunks ``[batch, chunk_samples]`` ->
  log-mel ``[batch, 1, n_mels, chunk_frames]``; stream frame ``f`` covers
  samples ``[f * hop_length - n_fft // 2, f * hop_length + n_fft // 2)`` (the
  stream is left-padded with ``n_fft // 2`` zeros), which is exactly where a
  window starting at a multiple of ``hop_length`` has its ``center=True`` frames.
* ``body`` (ONNX, cut from the shipped file at its ``log_mel`` value):
  log-mel ``[batch, 1, n_mels, n_frames]`` -> scores.

The frames at a window's two edges differ: the one-graph model reflect-pads the
window there, the stream has real neighbouring audio (or zeros at the stream
ends). Variant ``stream`` keeps the stream frames (cheapest, not bit-equal);
variant ``exact`` recomputes just those edge frames per window with the
``center=True`` front end on short edge segments (``left``/``right`` ONNX), which
reproduces the one-graph scores up to float rounding.
The monitor hop must be a multiple of ``hop_length``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

LOG_MEL_INPUT = "log_mel"
WAVEFORM_INPUT = "waveform"
SCORES_OUTPUT = "scores"


@dataclass(frozen=True)
class FrameGeometry:
    """Where frames and edge segments sit; all sizes in samples at the model rate."""

    window_samples: int
    n_fft: int
    hop_length: int
    n_mels: int
    chunk_frames: int
    """Frames per front-end chunk (one ONNX row)."""

    @property
    def pad_left(self) -> int:
        return self.n_fft // 2

    @property
    def n_frames(self) -> int:
        """Frames per window (``center=True``), as the one-graph model computes."""
        return self.window_samples // self.hop_length + 1

    @property
    def chunk_samples(self) -> int:
        return (self.chunk_frames - 1) * self.hop_length + self.n_fft

    @property
    def n_left(self) -> int:
        """Leading frames of a window that reach before its first sample (reflect-padded)."""
        return -(-self.pad_left // self.hop_length)

    @property
    def first_right(self) -> int:
        """First frame of a window that reaches past its last sample."""
        return (self.window_samples - self.pad_left) // self.hop_length + 1

    @property
    def n_right(self) -> int:
        return self.n_frames - self.first_right

    @property
    def left_samples(self) -> int:
        """Length of the segment whose ``center=True`` frames give the left edge frames."""
        return self.n_left * self.hop_length + self.pad_left

    @property
    def right_offset(self) -> int:
        """Start of the right edge segment within the window (a multiple of ``hop_length``)."""
        return (self.first_right - self.n_left) * self.hop_length

    @property
    def right_samples(self) -> int:
        return self.window_samples - self.right_offset

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class FrameOnceScorer:
    """Streams float32 mono blocks at the model rate; returns scores of the windows they complete.

    ``sessions``: onnxruntime sessions ``frontend``, ``body`` and (variant
    ``exact``) ``left``/``right``. Window ``m`` starts at ``m * hop_samples``.
    """

    def __init__(self, sessions: dict[str, Any], geometry: FrameGeometry, hop_samples: int,
                 batch_windows: int, exact_edges: bool) -> None:
        if hop_samples % geometry.hop_length:
            raise ValueError(f"hop {hop_samples} is not a multiple of hop_length {geometry.hop_length}")
        self.sessions, self.g = sessions, geometry
        self.hop_frames = hop_samples // geometry.hop_length
        self.hop_samples = hop_samples
        self.batch_windows = batch_windows
        self.exact_edges = exact_edges
        self._audio = np.zeros(geometry.pad_left, np.float32)  # padded stream from _audio_base
        self._audio_base = 0  # padded index of _audio[0]
        self._frames = np.zeros((geometry.n_mels, 0), np.float32)
        self._frame_base = 0  # stream frame index of _frames[:, 0]
        self._total = 0  # original samples received
        self._next_window = 0

    def push(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add ``block``; return (window starts int64 ``[n]``, scores float32 ``[n, labels]``)."""
        self._audio = np.concatenate([self._audio, np.asarray(block, np.float32)])
        self._total += len(block)
        self._compute_frames()
        return self._score_ready(final=False)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """Zero-pad the stream end so every window within the stream gets its frames."""
        pad = self.g.pad_left + self.g.chunk_samples
        self._audio = np.concatenate([self._audio, np.zeros(pad, np.float32)])
        self._compute_frames()
        return self._score_ready(final=True)

    def _compute_frames(self) -> None:
        g = self.g
        done = self._frame_base + self._frames.shape[1]
        step = g.chunk_frames * g.hop_length
        first = done * g.hop_length - self._audio_base  # chunk start in _audio
        available = len(self._audio) - first - g.chunk_samples
        n_chunks = available // step + 1 if available >= 0 else 0
        if n_chunks <= 0:
            return
        span = self._audio[first : first + (n_chunks - 1) * step + g.chunk_samples]
        chunks = sliding_window_view(span, g.chunk_samples)[::step]
        (mel,) = self.sessions["frontend"].run(None, {WAVEFORM_INPUT: np.ascontiguousarray(chunks)})
        new = mel[:, 0].transpose(1, 0, 2).reshape(g.n_mels, n_chunks * g.chunk_frames)
        self._frames = np.concatenate([self._frames, new], axis=1)

    def _ready_windows(self, final: bool) -> int:
        g = self.g
        have_frames = self._frame_base + self._frames.shape[1]
        n = 0
        while True:
            m = self._next_window + n
            start = m * self.hop_samples
            if start + g.window_samples > self._total:
                break
            if m * self.hop_frames + g.n_frames > have_frames:
                break
            n += 1
        return n if final else n - n % self.batch_windows

    def _score_ready(self, final: bool) -> tuple[np.ndarray, np.ndarray]:
        n = self._ready_windows(final)
        starts_all, scores_all = [], []
        for first in range(0, n, self.batch_windows):
            windows = np.arange(first, min(n, first + self.batch_windows)) + self._next_window
            starts_all.append(windows * self.hop_samples)
            scores_all.append(self._score(windows))
        self._next_window += n
        self._trim()
        if not starts_all:
            return np.zeros(0, np.int64), np.zeros((0, 1), np.float32)
        return np.concatenate(starts_all).astype(np.int64), np.concatenate(scores_all)

    def _score(self, windows: np.ndarray) -> np.ndarray:
        g = self.g
        view = sliding_window_view(self._frames, g.n_frames, axis=1)  # [mels, positions, frames]
        features = np.ascontiguousarray(
            view[:, windows * self.hop_frames - self._frame_base].transpose(1, 0, 2)[:, None])
        if self.exact_edges:
            self._fix_edges(features, windows)
        (scores,) = self.sessions["body"].run([SCORES_OUTPUT], {LOG_MEL_INPUT: features})
        return scores

    def _fix_edges(self, features: np.ndarray, windows: np.ndarray) -> None:
        g = self.g
        starts = windows * self.hop_samples + g.pad_left - self._audio_base  # in _audio
        samples = sliding_window_view(self._audio, g.window_samples)[starts]
        left = np.ascontiguousarray(samples[:, : g.left_samples])
        right = np.ascontiguousarray(samples[:, g.right_offset :])
        (left_mel,) = self.sessions["left"].run(None, {WAVEFORM_INPUT: left})
        (right_mel,) = self.sessions["right"].run(None, {WAVEFORM_INPUT: right})
        features[:, :, :, : g.n_left] = left_mel[:, :, :, : g.n_left]
        features[:, :, :, g.first_right :] = right_mel[:, :, :, g.n_left : g.n_left + g.n_right]

    def _trim(self) -> None:
        """Drop frames and audio no future window needs (keeps memory bounded)."""
        keep_frame = self._next_window * self.hop_frames
        drop = keep_frame - self._frame_base
        if drop > 4 * self.g.n_frames:
            self._frames = self._frames[:, drop:].copy()
            self._frame_base = keep_frame
        done = self._frame_base + self._frames.shape[1]
        keep_sample = min(self._next_window * self.hop_samples, done * self.g.hop_length)
        drop = keep_sample - self._audio_base
        if drop > 4 * self.g.window_samples:
            self._audio = self._audio[drop:].copy()
            self._audio_base = keep_sample
