"""Waveform preparation, as the tutorial does it: load, mix down, resample, cut/pad.

Every function takes and returns float32 mono numpy arrays; rates are in Hz.
``soundfile`` reads the file (``torchaudio.load`` would need TorchCodec + FFmpeg)
and ``torchaudio.functional.resample`` changes the rate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import soundfile
import torch
import torchaudio

from train.errors import BadClipError

AUDIO_EXTENSIONS: Final = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aif", ".aiff")
"""Extensions soundfile decodes (webm needs ffmpeg first, see :mod:`train.coughvid`)."""
ENERGY_FRAME_S: Final = 0.01
"""Frame length for energy curves (crop anchors, loudest window)."""


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    """Decode ``path`` -> (float32 ``[n]`` mono in [-1, 1], native rate in Hz).

    Channels are averaged (the tutorial's mix-down). Raises :class:`BadClipError`
    naming the file when it is missing, unreadable, empty or holds NaN/inf.
    """
    if not path.is_file():
        raise BadClipError(f"{path}: no such file")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        raise BadClipError(f"{path}: unreadable audio ({' '.join(str(exc).split())})") from None
    if data.size == 0:
        raise BadClipError(f"{path}: empty audio (0 samples)")
    wave = data.mean(axis=1, dtype=np.float32)
    if not np.isfinite(wave).all():
        raise BadClipError(f"{path}: audio holds NaN or infinite samples")
    return wave, int(rate)


def resample(wave: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """float32 ``[n]`` at ``from_rate`` Hz -> float32 ``[m]`` at ``to_rate`` Hz (torchaudio sinc)."""
    if from_rate == to_rate:
        return wave
    out = torchaudio.functional.resample(torch.from_numpy(np.ascontiguousarray(wave)), from_rate, to_rate)
    return out.numpy().astype(np.float32, copy=False)


def load_waveform(path: Path, sample_rate: int) -> np.ndarray:
    """Read ``path`` as float32 ``[n]`` mono at ``sample_rate`` Hz (whole file, no cut)."""
    wave, rate = read_mono(path)
    return resample(wave, rate, sample_rate)


def fit_length(wave: np.ndarray, window_samples: int) -> np.ndarray:
    """The tutorial's fixed length: keep the first ``window_samples``, right-pad with zeros."""
    return crop_at(wave, 0, window_samples)


def crop_at(wave: np.ndarray, start: int, window_samples: int) -> np.ndarray:
    """``wave[start : start + window_samples]`` as float32, zero-filled where out of range.

    ``start`` may be negative or past the end (time shift with the clip partly
    outside the window).
    """
    out = np.zeros(window_samples, np.float32)
    lo, hi = max(start, 0), min(start + window_samples, len(wave))
    if hi > lo:
        out[lo - start : hi - start] = wave[lo:hi]
    return out


def frame_energy(wave: np.ndarray, frame_samples: int) -> np.ndarray:
    """Mean square per non-overlapping frame, float64 ``[len(wave) // frame_samples]`` (>= 1 frame)."""
    frame_samples = max(1, min(frame_samples, len(wave)))
    n_frames = len(wave) // frame_samples
    frames = wave[: n_frames * frame_samples].astype(np.float64).reshape(n_frames, frame_samples)
    return np.mean(frames**2, axis=1)


def loudest_window_start(wave: np.ndarray, window_samples: int, sample_rate: int) -> int:
    """Start sample of the ``window_samples`` window holding the most energy.

    Searched on a 10 ms grid; 0 when the clip is no longer than a window.
    Deterministic: the validation crop for clips longer than a window.
    """
    if len(wave) <= window_samples:
        return 0
    frame = max(1, int(ENERGY_FRAME_S * sample_rate))
    energy = frame_energy(wave, frame)
    per_window = max(1, window_samples // frame)
    if len(energy) <= per_window:
        return 0
    sums = np.convolve(energy, np.ones(per_window), mode="valid")
    best = int(np.argmax(sums)) * frame
    return min(best, len(wave) - window_samples)
