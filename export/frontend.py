"""The log-mel front end in the form that goes into the ONNX graph.

:class:`MatmulLogMel` computes exactly the function of
:class:`train.features.LogMel` (torchaudio ``MelSpectrogram``: Hann window,
``center=True`` reflect padding, one-sided power spectrum, mel filterbank,
optional ``log(mel + offset)``) with ops onnxruntime runs fast: frames are cut
by reshaping and slicing, and the DFT is a two-stage Cooley-Tukey FFT written
as two small matrix products. onnxruntime's own ``STFT`` kernel took ~60 % of a
default model's time; this form is ~2.4x faster for the same numbers (float32
rounding apart; export's parity check compares every export with torchaudio).

Training keeps torchaudio (``torch.stft`` is the fast path there); export swaps
this module in at ``net.frontend`` just before tracing.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from export.errors import ExportError
from train.features import LogMel


def fft_factors(n_fft: int) -> tuple[int, int]:
    """``(n1, n2)`` with ``n1 * n2 == n_fft``, ``n1 <= n2`` and ``n1`` as large as possible.

    The two FFT stages cost ~``2 * n_fft * (n1 + n2)`` multiply-adds per frame,
    least when the factors are close (512 -> 16 x 32). A prime ``n_fft`` gives
    ``(1, n_fft)``: a plain DFT.
    """
    n1 = max(d for d in range(1, math.isqrt(n_fft) + 1) if n_fft % d == 0)
    return n1, n_fft // n1


class MatmulLogMel(nn.Module):
    """Waveform float32 ``[batch, window_samples]`` -> log-mel ``[batch, 1, n_mels, n_frames]``.

    Same input, output, units and constants as the :class:`LogMel` it is built
    from (its window and mel filterbank tensors are copied, not recomputed).
    ``n_samples`` (default ``spec.window_samples``) fixes the input length; the
    STFT's ``center`` setting is followed (``False``: no padding, frames start at 0).
    """

    def __init__(self, logmel: LogMel, n_samples: int | None = None) -> None:
        super().__init__()
        spec = logmel.spec
        stft = logmel.mel.spectrogram
        _check_supported(stft)
        self.n_fft = spec.n_fft
        self.hop = spec.hop_length
        self.center = bool(stft.center)
        n_samples = spec.window_samples if n_samples is None else n_samples
        if self.center:
            self.n_frames = n_samples // spec.hop_length + 1
        else:
            self.n_frames = (n_samples - spec.n_fft) // spec.hop_length + 1
        if self.n_frames < 1 or (self.center and n_samples <= spec.n_fft // 2):
            raise ExportError(f"front end: {n_samples} samples is too short for n_fft {spec.n_fft}")
        self.any_length = False
        """True: take inputs of any multiple of ``hop_length`` samples (:meth:`run_frames`)."""
        self.log = spec.log
        self.log_offset = spec.log_offset
        self.n1, self.n2 = fft_factors(spec.n_fft)
        self.chunks_per_frame = -(-spec.n_fft // spec.hop_length)
        n_bins = spec.n_fft // 2 + 1
        self.k2_count = (n_bins - 1) // self.n1 + 1
        """Second-stage outputs kept: bins ``k = k1 + n1 * k2`` up to ``n_fft / 2``."""
        self.register_buffer("window", stft.window.detach().float().clone())
        self.register_buffer("stage1", _stage1_matrix(self.n1))
        twiddle = _twiddles(self.n1, self.n2)
        self.register_buffer("twiddle_re", twiddle.real.float())
        self.register_buffer("twiddle_im", twiddle.imag.float())
        self.register_buffer("stage2", _stage2_matrix(self.n2, self.k2_count))
        self.register_buffer(
            "mel_fb", _bin_major_filterbank(logmel.mel.mel_scale.fb, self.n1, self.k2_count)
        )

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        frames = self.run_frames(waveform) if self.any_length else self._frames(waveform)
        return self.from_frames(frames)

    def from_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Raw frames float32 ``[B, F, n_fft]`` (any ``F``) -> log-mel ``[B, 1, n_mels, F]``."""
        frames = frames * self.window
        batch, n_frames = frames.shape[0], frames.shape[1]
        # n = n2_size * n1 + n2: each frame as an [n1, n2] matrix; stage 1 transforms columns.
        stage1 = torch.matmul(self.stage1, frames.reshape(batch, n_frames, self.n1, self.n2))
        re, im = stage1[..., : self.n1, :], stage1[..., self.n1 :, :]  # [B, F, k1, n2]
        turned_re = re * self.twiddle_re - im * self.twiddle_im
        turned_im = re * self.twiddle_im + im * self.twiddle_re
        parts = torch.matmul(torch.stack([turned_re, turned_im], dim=2), self.stage2)
        k2 = self.k2_count  # parts [B, F, 2, k1, 2 * k2]: (re | im) input x (cos | sin) basis
        spec_re = parts[:, :, 0, :, :k2] - parts[:, :, 1, :, k2:]
        spec_im = parts[:, :, 0, :, k2:] + parts[:, :, 1, :, :k2]
        power = (spec_re * spec_re + spec_im * spec_im).reshape(batch, n_frames, -1)
        mel = torch.matmul(power, self.mel_fb).transpose(1, 2)  # [B, n_mels, F]
        if self.log:
            mel = torch.log(mel + self.log_offset)
        return mel.unsqueeze(1)

    def run_frames(self, waveform: torch.Tensor) -> torch.Tensor:
        """Frames of a run of any length (``center=False`` only):
        ``[B, S]`` with ``S`` a multiple of ``hop_length`` -> ``[B, (S - n_fft) // hop + 1, n_fft]``.

        Written with shape-derived sizes only, so the exported graph keeps ``S`` dynamic.
        """
        if self.center:
            raise ExportError("front end: runs of windows need center=False framing")
        chunks = waveform.reshape(waveform.shape[0], -1, self.hop)  # [B, S / hop, hop]
        n_frames = chunks.shape[1] - self.chunks_per_frame + 1
        parts = [chunks[:, j : j + n_frames] for j in range(self.chunks_per_frame)]
        frames = torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]
        return frames[..., : self.n_fft]

    def _frames(self, waveform: torch.Tensor) -> torch.Tensor:
        """``[B, n_samples]`` -> ``[B, n_frames, n_fft]``, as ``torch.stft``."""
        padded = waveform
        if self.center:
            half = self.n_fft // 2
            padded = nn.functional.pad(waveform.unsqueeze(1), (half, half), mode="reflect").squeeze(1)
        n_chunks = self.n_frames + self.chunks_per_frame - 1
        short = n_chunks * self.hop - padded.shape[-1]
        if short > 0:  # the tail only feeds the unused end of the last chunk
            padded = nn.functional.pad(padded, (0, short))
        chunks = padded[:, : n_chunks * self.hop].reshape(-1, n_chunks, self.hop)
        parts = [chunks[:, j : j + self.n_frames] for j in range(self.chunks_per_frame)]
        frames = torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]
        return frames[..., : self.n_fft]


def _check_supported(stft: nn.Module) -> None:
    wanted = {"pad_mode": "reflect", "onesided": True, "normalized": False,
              "pad": 0, "power": 2.0}
    for name, value in wanted.items():
        if getattr(stft, name) != value:
            raise ExportError(f"front end: {name}={getattr(stft, name)!r} is not supported "
                              f"(the ONNX front end implements {name}={value!r})")
    if stft.win_length != stft.n_fft:
        raise ExportError("front end: win_length must equal n_fft")


def _stage1_matrix(n1: int) -> torch.Tensor:
    """float32 ``[2 n1, n1]``: rows ``k1`` give the real, rows ``n1 + k1`` the imaginary part."""
    k = torch.arange(n1, dtype=torch.float64)
    angle = -2 * math.pi * torch.outer(k, k) / n1
    return torch.cat([torch.cos(angle), torch.sin(angle)]).float()


def _twiddles(n1: int, n2: int) -> torch.Tensor:
    """complex128 ``[n1, n2]``: ``exp(-2 pi i k1 n2 / (n1 n2))``."""
    angle = -2 * math.pi * torch.outer(torch.arange(n1), torch.arange(n2)).double() / (n1 * n2)
    return torch.polar(torch.ones_like(angle), angle)


def _stage2_matrix(n2: int, k2_count: int) -> torch.Tensor:
    """float32 ``[n2, 2 k2_count]``: ``[cos | sin]`` of ``-2 pi n2 k2 / n2_size``."""
    angle = -2 * math.pi * torch.outer(
        torch.arange(n2, dtype=torch.float64), torch.arange(k2_count, dtype=torch.float64)) / n2
    return torch.cat([torch.cos(angle), torch.sin(angle)], dim=1).float()


def _bin_major_filterbank(fb: torch.Tensor, n1: int, k2_count: int) -> torch.Tensor:
    """The ``[n_bins, n_mels]`` filterbank re-indexed to the FFT's ``k1 * k2_count + k2``
    output order (bin ``k = k1 + n1 * k2``); rows past ``n_fft / 2`` are zero."""
    out = torch.zeros(n1, k2_count, fb.shape[1], dtype=torch.float64)
    for k in range(fb.shape[0]):
        out[k % n1, k // n1] = fb[k].double()
    return out.reshape(n1 * k2_count, fb.shape[1]).float()
