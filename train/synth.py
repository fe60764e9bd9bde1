"""Synthetic audio for tests and demos (numpy only: importable without torch).

Cough-like bursts have a fast attack, a noisy broadband body with a low
resonance and a 0.2-0.5 s decay; negatives are tones, coloured noise and
speech-like harmonic babble. All signals are float32 mono in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


def cough_burst(rng: np.random.Generator, sample_rate: int = 16000) -> np.ndarray:
    """One cough-like burst, float32 ``[n]``, 0.2-0.5 s at ``sample_rate``, peak ~0.5-0.9."""
    duration_s = rng.uniform(0.2, 0.5)
    n = int(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    attack = np.minimum(1.0, t / rng.uniform(0.005, 0.015))
    decay = np.exp(-t / rng.uniform(0.06, 0.15))
    noise = rng.standard_normal(n)
    # crude vocal-tract colouring: a one-pole low-pass mixed with the raw noise
    alpha = rng.uniform(0.6, 0.9)
    coloured = np.empty(n)
    acc = 0.0
    for i, x in enumerate(noise):  # small n; clarity over speed
        acc = alpha * acc + (1 - alpha) * x
        coloured[i] = acc
    body = 0.6 * coloured / (np.abs(coloured).max() + 1e-9) + 0.4 * noise / (np.abs(noise).max() + 1e-9)
    burst = attack * decay * body
    return (rng.uniform(0.5, 0.9) * burst / (np.abs(burst).max() + 1e-9)).astype(np.float32)


def tone(rng: np.random.Generator, duration_s: float, sample_rate: int = 16000) -> np.ndarray:
    """A steady sine (100-3000 Hz) with slow amplitude wobble, float32 ``[n]``."""
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    freq = rng.uniform(100, 3000)
    amp = rng.uniform(0.1, 0.5) * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t))
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(rng: np.random.Generator, duration_s: float, level: float = 0.05, sample_rate: int = 16000) -> np.ndarray:
    """Stationary white or brown-ish noise at RMS ``level``, float32 ``[n]``."""
    n = int(duration_s * sample_rate)
    x = rng.standard_normal(n)
    if rng.random() < 0.5:
        x = np.cumsum(x)
        x -= np.convolve(x, np.ones(256) / 256, mode="same")
    x = x / (np.sqrt(np.mean(x**2)) + 1e-12) * level
    return np.clip(x, -1, 1).astype(np.float32)


def speech_like(rng: np.random.Generator, duration_s: float, sample_rate: int = 16000) -> np.ndarray:
    """Harmonic babble with syllable-rate (3-6 Hz) smooth envelopes, float32 ``[n]``."""
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    f0 = rng.uniform(90, 250) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.2, 1) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(3, 6) * t + rng.uniform(0, 6.28)))
    x = voiced * envelope**2
    return (rng.uniform(0.1, 0.4) * x / (np.abs(x).max() + 1e-9)).astype(np.float32)


def negative_clip(rng: np.random.Generator, duration_s: float, sample_rate: int = 16000) -> np.ndarray:
    """A random non-cough clip: tone, noise or speech-like, float32 ``[n]``."""
    kind = rng.integers(3)
    if kind == 0:
        return tone(rng, duration_s, sample_rate)
    if kind == 1:
        return noise(rng, duration_s, rng.uniform(0.02, 0.2), sample_rate)
    return speech_like(rng, duration_s, sample_rate)


def positive_clip(rng: np.random.Generator, duration_s: float = 1.0, sample_rate: int = 16000) -> np.ndarray:
    """A cough burst at a random offset over a quiet noise floor, float32 ``[n]``."""
    clip = noise(rng, duration_s, rng.uniform(0.002, 0.02), sample_rate)
    burst = cough_burst(rng, sample_rate)[: len(clip)]
    start = int(rng.integers(0, max(1, len(clip) - len(burst))))
    clip[start : start + len(burst)] += burst
    return np.clip(clip, -1, 1).astype(np.float32)


@dataclass(frozen=True)
class SyntheticStream:
    """A long test stream with coughs at known places."""

    audio: np.ndarray
    """float32 ``[n]`` mono at ``sample_rate``."""
    sample_rate: int
    cough_starts: list[int]
    """Sample index where each inserted burst begins."""
    cough_ends: list[int]


def cough_stream(
    rng: np.random.Generator,
    duration_s: float = 30.0,
    n_coughs: int = 5,
    sample_rate: int = 16000,
    background_level: float = 0.01,
) -> SyntheticStream:
    """Background noise with ``n_coughs`` bursts spaced >= 2 s apart at known samples."""
    audio = noise(rng, duration_s, background_level, sample_rate)
    slots = np.linspace(1.0, duration_s - 1.5, n_coughs)
    starts, ends = [], []
    for slot_s in slots:
        burst = cough_burst(rng, sample_rate)
        start = int((slot_s + rng.uniform(0, 0.3)) * sample_rate)
        audio[start : start + len(burst)] += burst
        starts.append(start)
        ends.append(start + len(burst))
    return SyntheticStream(np.clip(audio, -1, 1).astype(np.float32), sample_rate, starts, ends)


# --- a labelled synthetic data set on disk (for tests and demos) -------------------------------

SYNTH_POSITIVE = "cough"
SYNTH_NEGATIVE = "non_cough"
CLIPS_PER_GROUP = 4
"""Synthetic 'speakers': consecutive clips of one class share a group."""


def write_dataset(
    out_dir: Path,
    n_clips: int = 200,
    seed: int = 0,
    sample_rate: int = 16000,
    positive_fraction: float = 0.5,
    duration_s: tuple[float, float] = (0.6, 2.5),
) -> Path:
    """Write ``n_clips`` 16-bit wavs under ``out_dir/audio/`` and ``out_dir/manifest.csv``.

    Columns ``path,label,group,kind``: label ``cough`` (one burst over a quiet
    noise floor) or ``non_cough`` (tone, noise or speech-like); durations drawn
    uniformly from ``duration_s``. Returns the manifest path. Needs soundfile.
    """
    import soundfile

    rng = np.random.default_rng(seed)
    audio_dir = out_dir / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    n_positive = int(round(n_clips * positive_fraction))
    rows = ["path,label,group,kind"]
    for i in range(n_clips):
        positive = i < n_positive
        length_s = float(rng.uniform(*duration_s))
        clip = positive_clip(rng, length_s, sample_rate) if positive else negative_clip(rng, length_s, sample_rate)
        label = SYNTH_POSITIVE if positive else SYNTH_NEGATIVE
        name = f"audio/{label}_{i:05d}.wav"
        soundfile.write(str(out_dir / name), clip, sample_rate, subtype="PCM_16")
        local = i if positive else i - n_positive
        rows.append(f"{name},{label},{label}-{local // CLIPS_PER_GROUP},synthetic")
    manifest = out_dir / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """``python -m train.synth --out DIR [--n 200] [--seed 0] [--rate 16000]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m train.synth",
                                     description="Write a synthetic cough / non-cough data set (wavs + manifest.csv).")
    parser.add_argument("--out", type=Path, required=True, help="folder to write")
    parser.add_argument("--n", type=int, default=200, help="number of clips (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--rate", type=int, default=16000, help="sample rate in Hz (default 16000)")
    parser.add_argument("--positive-fraction", type=float, default=0.5, help="share of cough clips (default 0.5)")
    args = parser.parse_args(argv)
    if args.n < 1 or not 0.0 <= args.positive_fraction <= 1.0:
        parser.error("--n must be >= 1 and --positive-fraction in [0, 1]")
    manifest = write_dataset(args.out, args.n, args.seed, args.rate, args.positive_fraction)
    print(manifest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
