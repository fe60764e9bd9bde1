"""Deterministic test windows for parity checks, calibration and the int8 AUC fallback.

Every window is float32 ``[window_samples]`` mono at the model's
``sample_rate`` in [-1, 1]; signals come from :mod:`train.synth` and plain
numpy, seeded, so two exports of one checkpoint see the same audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from train import synth

PROBE_SEED: Final = 20240601
TONE_HZ: Final = (100.0, 1000.0, 3500.0)
"""Tone probes; each is kept below 0.45 x the sample rate."""
NOISE_DBFS: Final = (-60.0, -20.0)
"""RMS levels of the white-noise probes."""


@dataclass(frozen=True)
class Window:
    """One named, optionally labelled, model-ready window."""

    name: str
    waveform: np.ndarray
    """float32 ``[window_samples]`` at the model rate."""
    positive: bool | None = None
    """True = a cough, False = not a cough, None = unlabelled."""


def fit(wave: np.ndarray, window_samples: int) -> np.ndarray:
    """First ``window_samples`` of ``wave`` as float32, right-padded with zeros."""
    out = np.zeros(window_samples, np.float32)
    n = min(len(wave), window_samples)
    out[:n] = wave[:n]
    return out


def parity_probes(sample_rate: int, window_samples: int) -> list[Window]:
    """Silence, white noise, full-scale noise, tones, a click, speech-like babble and coughs."""
    rng = np.random.default_rng(PROBE_SEED)
    window_s = window_samples / sample_rate
    t = np.arange(window_samples) / sample_rate
    probes = [Window("silence", np.zeros(window_samples, np.float32))]
    for dbfs in NOISE_DBFS:
        level = 10 ** (dbfs / 20)
        probes.append(Window(f"white noise {dbfs:g} dBFS", _f32(level * rng.standard_normal(window_samples))))
    probes.append(Window("full-scale noise", _f32(rng.uniform(-1.0, 1.0, window_samples))))
    for hz in TONE_HZ:
        if hz < 0.45 * sample_rate:
            probes.append(Window(f"tone {hz:g} Hz", _f32(0.5 * np.sin(2 * np.pi * hz * t))))
    click = np.zeros(window_samples, np.float32)
    click[window_samples // 2] = 1.0
    probes.append(Window("click", click))
    probes.append(Window("speech-like", fit(synth.speech_like(rng, window_s, sample_rate), window_samples)))
    probes.append(Window("cough burst", fit(synth.cough_burst(rng, sample_rate), window_samples), True))
    probes.append(Window("cough over noise", fit(synth.positive_clip(rng, window_s, sample_rate), window_samples), True))
    return probes


def synthetic_labelled(sample_rate: int, window_samples: int, n_each: int, seed: int = PROBE_SEED) -> list[Window]:
    """``n_each`` synthetic coughs and ``n_each`` synthetic non-coughs, interleaved.

    A stand-in for validation clips (AUC of int8 vs fp32, calibration) when the
    run recorded none; results on it are labelled "synthetic" wherever shown.
    """
    rng = np.random.default_rng(seed)
    window_s = window_samples / sample_rate
    windows = []
    for i in range(n_each):
        pos = synth.positive_clip(rng, window_s, sample_rate)
        neg = synth.negative_clip(rng, window_s, sample_rate)
        windows.append(Window(f"synthetic cough {i}", fit(pos, window_samples), True))
        windows.append(Window(f"synthetic negative {i}", fit(neg, window_samples), False))
    return windows


def stack(windows: list[Window]) -> np.ndarray:
    """float32 ``[len(windows), window_samples]`` batch."""
    return np.stack([w.waveform for w in windows]).astype(np.float32, copy=False)


def _f32(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -1.0, 1.0).astype(np.float32)
