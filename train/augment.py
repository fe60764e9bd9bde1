"""Training-time augmentation of one window, for the stream rather than the clip.

Applied in this order to a cropped float32 window at the model rate:

1. isolate or mix: a window may be cut down to ONE of its sound bursts
   (:func:`train.streams.cough_segments`, as the evaluation streams insert
   coughs) placed at a random offset over a background at a random local SNR;
   otherwise a cough window is mixed into a background (a non-cough training
   clip or an extra background recording) at a random SNR. Non-cough windows
   get both too, so "one short burst" and "two sources" are no cough cues;
2. telephone band-limiting (300-3400 Hz, what an 8 kHz phone line passes) on
   both classes, so bandwidth is no class cue;
3. random gain, so absolute level is no cue;
4. a coloured noise floor at a random level, so digital silence is no cue.

(Time shift happens in the crop, see :mod:`train.crop`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from train.streams import cough_segments, rms_db

TELEPHONE_BAND_HZ: Final = (300.0, 3400.0)


@dataclass(frozen=True)
class AugmentSettings:
    """Probabilities and ranges of each augmentation (ranges are uniform, inclusive)."""

    mix_probability: float = 0.5
    """Chance a cough window is mixed into a background."""
    negative_mix_probability: float = 0.25
    """Chance a non-cough window is mixed with another background."""
    snr_db: tuple[float, float] = (0.0, 20.0)
    """Foreground-to-background power ratio over the window, dB."""
    telephone_probability: float = 0.2
    """Chance of 300-3400 Hz band-limiting (either class)."""
    gain_db: tuple[float, float] = (-24.0, 6.0)
    """Random gain, dB (the result is clipped to [-1, 1])."""
    noise_floor_dbfs: tuple[float, float] = (-75.0, -45.0)
    """RMS level of the added noise floor, dBFS."""
    segment_probability: float = 0.0
    """Chance a cough window is cut to one burst over a background (``snr_db`` measured
    over the burst's span): single short coughs then appear alone, as they do in streams."""
    negative_segment_probability: float = 0.0
    """The same for non-cough windows (one word, knock or breath alone)."""
    burst_db: float | None = None
    """Cut cough windows only to segments whose loudest 10 ms is within this many dB of the
    window's peak (:data:`train.streams.BURST_DB` = 10 is what the evaluation streams insert);
    None = any segment, in-breaths between coughs included."""

    def __post_init__(self) -> None:
        for name in ("mix_probability", "negative_mix_probability", "telephone_probability",
                     "segment_probability", "negative_segment_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        for name in ("snr_db", "gain_db", "noise_floor_dbfs"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name}: low {low} > high {high}")
        if self.burst_db is not None and not self.burst_db > 0:
            raise ValueError("burst_db must be > 0")


class Augmenter:
    """Callable ``(window, is_event, rng) -> window``, float32 ``[window_samples]`` at ``sample_rate``."""

    def __init__(
        self, settings: AugmentSettings, sample_rate: int, backgrounds: Sequence[np.ndarray] = ()
    ) -> None:
        """``backgrounds``: mono waveforms at ``sample_rate`` (any length, float16/32) to mix into."""
        self.settings = settings
        self.sample_rate = sample_rate
        self.backgrounds = [b for b in backgrounds if len(b) > 0]

    def __call__(self, window: np.ndarray, is_event: bool, rng: np.random.Generator) -> np.ndarray:
        s = self.settings
        out = window.astype(np.float32, copy=True)
        burst = None
        if rng.random() < (s.segment_probability if is_event else s.negative_segment_probability):
            burst = self._one_burst(out, rng, s.burst_db if is_event else None)
        if burst is not None:
            out = burst
        elif rng.random() < (s.mix_probability if is_event else s.negative_mix_probability):
            out = mix_at_snr(out, self._background(len(out), rng), rng.uniform(*s.snr_db))
        if rng.random() < s.telephone_probability:
            out = band_limit(out, self.sample_rate, *TELEPHONE_BAND_HZ)
        out *= np.float32(10 ** (rng.uniform(*s.gain_db) / 20))
        out += coloured_noise(len(out), rng.uniform(*s.noise_floor_dbfs), rng)
        return np.clip(out, -1.0, 1.0)

    def _one_burst(
        self, window: np.ndarray, rng: np.random.Generator, burst_db: float | None
    ) -> np.ndarray | None:
        """One energetic segment of ``window`` at a random offset over a background whose
        RMS over the segment's span sits ``snr_db`` below the segment's; None if no segment.
        ``burst_db``: only segments that loud relative to the window's peak (a cough window's
        bursts: an in-breath between coughs is no cough)."""
        segments = cough_segments(window, self.sample_rate, burst_db)
        if not segments:
            return None
        start, end = segments[int(rng.integers(len(segments)))]
        burst = window[start:end] * _fades(end - start, int(FADE_S * self.sample_rate))
        n = len(window)
        offset = int(rng.integers(0, n - len(burst) + 1))
        out = self._background(n, rng)
        span_db = rms_db(out[offset : offset + len(burst)])
        if span_db > SILENT_DBFS:
            out *= np.float32(10 ** ((rms_db(burst) - rng.uniform(*self.settings.snr_db) - span_db) / 20))
        out[offset : offset + len(burst)] += burst
        return out

    def _background(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if not self.backgrounds:
            return coloured_noise(n, -30.0, rng)
        source = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
        start = int(rng.integers(0, max(1, len(source) - n + 1)))
        piece = np.zeros(n, np.float32)
        chunk = source[start : start + n]
        piece[: len(chunk)] = chunk
        return piece


FADE_S: Final = 0.005
"""Linear fade at both ends of an isolated burst (no click where it was cut)."""
SILENT_DBFS: Final = -100.0


def _fades(n: int, ramp: int) -> np.ndarray:
    """float32 ``[n]`` gain: linear ramps of ``ramp`` samples (at most n // 4) at both ends."""
    gain = np.ones(n, np.float32)
    ramp = min(ramp, n // 4)
    if ramp > 0:
        up = np.linspace(0.0, 1.0, ramp, endpoint=False, dtype=np.float32)
        gain[:ramp], gain[n - ramp :] = up, up[::-1]
    return gain


def mix_at_snr(foreground: np.ndarray, background: np.ndarray, snr_db: float) -> np.ndarray:
    """``foreground + k * background`` with k setting the power ratio to ``snr_db`` (float32).

    Unchanged when either signal is silent.
    """
    power_fg = float(np.mean(np.square(foreground, dtype=np.float64)))
    power_bg = float(np.mean(np.square(background, dtype=np.float64)))
    if power_fg <= 0.0 or power_bg <= 0.0:
        return foreground
    scale = np.sqrt(power_fg / (power_bg * 10 ** (snr_db / 10)))
    return (foreground + scale * background).astype(np.float32)


def band_limit(wave: np.ndarray, sample_rate: int, low_hz: float, high_hz: float) -> np.ndarray:
    """Zero every FFT bin outside ``low_hz..high_hz`` (a brick-wall band-pass), float32.

    With the telephone band this is what an 8 kHz resample round trip plus a
    300 Hz high-pass leaves of the signal.
    """
    spectrum = np.fft.rfft(wave)
    freqs = np.fft.rfftfreq(len(wave), 1 / sample_rate)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0
    return np.fft.irfft(spectrum, n=len(wave)).astype(np.float32)


def coloured_noise(n: int, level_dbfs: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f^a power spectrum (a random in [0, 1.5]) at RMS ``level_dbfs``, float32 ``[n]``."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    spectrum /= freqs ** (rng.uniform(0.0, 1.5) / 2)
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, n=n)
    rms = np.sqrt(np.mean(noise**2)) + 1e-12
    return (noise / rms * 10 ** (level_dbfs / 20)).astype(np.float32)
