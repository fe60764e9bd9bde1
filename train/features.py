"""Fixed-length log-mel front end: the one definition shared by training and ONNX.

:class:`FeatureSpec` fixes every DSP constant; :class:`LogMel` is the model's
first layer, so ``export`` puts it inside the ONNX graph and the monitor holds
no DSP code of its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Final

import torch
import torchaudio
from torch import nn

from monitor.scoring.modelfile import FeatureSpecInfo

NORMALIZATIONS: Final = ("none", "window_mean")


@dataclass(frozen=True)
class FeatureSpec:
    """Constants of the waveform -> log-mel transform (all baked into the graph)."""

    sample_rate: int = 16000
    """Model input rate in Hz; audio is resampled to it before the graph."""
    window_samples: int = 16000
    """Samples per scored window at ``sample_rate`` (clips are cut/right-padded to it)."""
    n_fft: int = 512
    """FFT size in samples (also the STFT window length)."""
    hop_length: int = 320
    """STFT hop in samples."""
    n_mels: int = 64
    """Number of mel bands."""
    f_min: float = 50.0
    """Lowest mel band edge in Hz."""
    f_max: float = 8000.0
    """Highest mel band edge in Hz (<= sample_rate / 2)."""
    log_offset: float = 1e-6
    """``log(mel + log_offset)``; keeps digital silence finite."""
    log: bool = True
    """Apply the log; False reproduces the tutorial's raw mel power."""
    normalize: str = "none"
    """'none', or 'window_mean': subtract the window's mean log-mel (level invariance)."""
    center: bool = True
    """STFT framing. True (torchaudio's default): frame ``f`` is centred on sample
    ``f * hop_length``, the window reflect-padded by ``n_fft // 2`` at both edges.
    False: frame ``f`` covers samples ``[f * hop_length, f * hop_length + n_fft)``, so a
    window's frames are exactly the frames of the stream it was cut from (the
    exported graph can then score many overlapping windows from one pass of frames)."""

    def __post_init__(self) -> None:
        if self.f_max > self.sample_rate / 2 or self.f_min < 0 or self.f_min >= self.f_max:
            raise ValueError(f"bad mel range {self.f_min}..{self.f_max} Hz at {self.sample_rate} Hz")
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, not {self.normalize!r}")
        if min(self.window_samples, self.n_fft, self.hop_length, self.n_mels) <= 0:
            raise ValueError("window_samples, n_fft, hop_length and n_mels must be positive")
        if not self.center and self.n_fft > self.window_samples:
            raise ValueError(f"center=False needs n_fft ({self.n_fft}) <= window_samples ({self.window_samples})")

    @property
    def n_frames(self) -> int:
        """STFT frames per window."""
        if self.center:
            return self.window_samples // self.hop_length + 1
        return (self.window_samples - self.n_fft) // self.hop_length + 1

    @property
    def window_s(self) -> float:
        """Window length in seconds."""
        return self.window_samples / self.sample_rate

    def to_info(self) -> FeatureSpecInfo:
        """The monitor-side (torch-free) mirror written into ONNX metadata."""
        return FeatureSpecInfo(**asdict(self))


class LogMel(nn.Module):
    """Waveform ``[batch, window_samples]`` float32 at ``spec.sample_rate`` ->
    log-mel ``[batch, 1, n_mels, n_frames]`` float32.

    Power mel spectrogram (torchaudio, Hann window; ``spec.center`` picks centred
    frames with reflect padding or frames starting at sample 0) followed by ``log(mel + log_offset)``. No per-clip max or top-dB
    scaling, so a window scores the same alone or inside a longer clip.
    ``spec.normalize`` is applied by :class:`WindowNorm`, the network's next layer.
    """

    def __init__(self, spec: FeatureSpec) -> None:
        super().__init__()
        self.spec = spec
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=spec.sample_rate,
            n_fft=spec.n_fft,
            hop_length=spec.hop_length,
            n_mels=spec.n_mels,
            f_min=spec.f_min,
            f_max=spec.f_max,
            power=2.0,
            center=spec.center,
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        features = self.mel(waveform)
        if self.spec.log:
            features = torch.log(features + self.spec.log_offset)
        return features.unsqueeze(1)


class WindowNorm(nn.Module):
    """``spec.normalize`` applied to LogMel's output ``[batch, 1, n_mels, n_frames]``.

    ``window_mean`` subtracts each window's mean log-mel, so a gain change of the
    input (a constant offset in log-mel) leaves the features unchanged: the model
    cannot lean on absolute level. Kept outside :class:`LogMel` so the log-mel
    itself stays comparable with torchaudio (and in export parity checks).
    """

    def __init__(self, spec: FeatureSpec) -> None:
        super().__init__()
        self.subtract_mean = spec.normalize == "window_mean"

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.subtract_mean:
            return features - features.mean(dim=(-2, -1), keepdim=True)
        return features
