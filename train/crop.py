"""Which ``window_samples`` of a clip the model sees: crop policies for training and validation.

- ``first``: the tutorial (and the ``seed`` presets): the first window, cut or
  right-padded, for training and validation alike.
- ``energy`` (default preset): training windows are anchored on a 10 ms frame
  drawn with probability proportional to its energy, so a long cough recording
  yields windows that hold a cough, not the silence around it; validation takes
  the loudest window (deterministic). Both classes are cropped the same way so
  the crop is no label cue.

With ``shift`` (time-shift augmentation) the anchor lands anywhere in the window
except the outer ``EDGE_MARGIN`` (a cough may be partly outside: the monitor's
sliding windows see coughs cut at the edges too).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from train.audio import ENERGY_FRAME_S, crop_at, frame_energy, loudest_window_start

CROP_POLICIES: Final = ("first", "energy")
EDGE_MARGIN: Final = 0.1
"""Fraction of the window at either edge where a shifted anchor never lands."""
FIRST_SHIFT_FRACTION: Final = 0.25
"""``first`` policy with shift: start moves by up to this fraction of a window."""


def eval_window(wave: np.ndarray, window_samples: int, sample_rate: int, policy: str) -> np.ndarray:
    """The deterministic validation window, float32 ``[window_samples]``."""
    if policy == "first":
        return crop_at(wave, 0, window_samples)
    return crop_at(wave, loudest_window_start(wave, window_samples, sample_rate), window_samples)


def train_window(
    wave: np.ndarray,
    window_samples: int,
    sample_rate: int,
    policy: str,
    rng: np.random.Generator,
    shift: bool,
    cdf: np.ndarray | None = None,
) -> np.ndarray:
    """A random training window, float32 ``[window_samples]`` (zeros where outside the clip).

    ``cdf``: the clip's :func:`energy_cdf`, precomputed to save time on long clips.
    """
    if policy == "first":
        limit = int(FIRST_SHIFT_FRACTION * window_samples) if shift else 0
        return crop_at(wave, int(rng.integers(-limit, limit + 1)), window_samples)
    anchor = energy_anchor(wave, sample_rate, rng, cdf)
    if shift:
        margin = int(EDGE_MARGIN * window_samples)
        position = int(rng.integers(margin, max(margin + 1, window_samples - margin)))
        return crop_at(wave, anchor - position, window_samples)
    if len(wave) <= window_samples:
        return crop_at(wave, 0, window_samples)
    lo = max(0, anchor - window_samples + 1)
    hi = min(anchor, len(wave) - window_samples)
    return crop_at(wave, int(rng.integers(lo, max(lo, hi) + 1)), window_samples)


def energy_cdf(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Cumulative share of the clip's energy per 10 ms frame, float64 ``[n_frames]`` ending at 1.

    A silent clip gets a uniform distribution.
    """
    energy = frame_energy(wave, _frame_samples(wave, sample_rate))
    total = energy.sum()
    if total <= 0 or not np.isfinite(total):
        energy = np.ones_like(energy)
        total = energy.sum()
    cdf = np.cumsum(energy) / total
    cdf[-1] = 1.0
    return cdf


def energy_anchor(
    wave: np.ndarray, sample_rate: int, rng: np.random.Generator, cdf: np.ndarray | None = None
) -> int:
    """A sample index drawn with probability proportional to its 10 ms frame's energy."""
    frame = _frame_samples(wave, sample_rate)
    cdf = energy_cdf(wave, sample_rate) if cdf is None else cdf
    index = min(int(np.searchsorted(cdf, rng.random(), side="right")), len(cdf) - 1)
    return index * frame + int(rng.integers(frame))


def _frame_samples(wave: np.ndarray, sample_rate: int) -> int:
    return max(1, min(len(wave), int(ENERGY_FRAME_S * sample_rate)))
