"""Score a run of overlapping windows from ONE pass of log-mel frames.

With ``center=False`` framing a window's STFT frames are exactly the frames of
the audio it was cut from, so when consecutive windows start ``run_hop``
samples apart (a whole number of STFT hops) their frames can be computed once
and sliced. A ``stream_cnn`` body goes further: its convolutional trunk also
runs once over the run's frames, and each window only pools its own positions
(:class:`train.models.StreamBody`). :class:`WindowRunModel` is what ``export``
traces for such models:

* input ``waveform`` float32 ``[batch, window_samples + k * run_hop]`` (``k >= 0``,
  dynamic), mono at ``spec.sample_rate``;
* output ``scores`` float32 ``[batch * (k + 1), n_outputs]``: row ``b * (k + 1) + i``
  scores the window starting at sample ``i * run_hop`` of row ``b``.

``k = 0`` is the plain one-window-per-row contract, so the live monitor feeds it
windows as always; fast replay feeds runs and computes each frame once instead
of four times at the default quarter-window hop.
"""

from __future__ import annotations

import torch
from torch import nn

from export.errors import ExportError
from export.frontend import MatmulLogMel
from train.models import (
    STREAM_STRIDE_FRAMES,
    ModelConfig,
    ScoringModel,
    StreamBody,
    stream_positions,
)


def run_hop_samples(config: ModelConfig) -> int:
    """Hop in samples between the windows of a run, or 0 when ``config`` cannot share frames.

    The largest whole number of STFT hops (for ``stream_cnn``: of
    :data:`~train.models.STREAM_STRIDE_FRAMES` STFT hops) not above
    ``config.hop_fraction`` of a window; it becomes the model's default hop. Sharing
    needs ``center=False`` and a window that is a whole number of STFT hops.
    """
    spec = config.spec
    step = spec.hop_length * (STREAM_STRIDE_FRAMES if config.architecture == "stream_cnn" else 1)
    hop = int(spec.window_samples * config.hop_fraction) // step * step
    if spec.center or spec.window_samples % spec.hop_length or hop == 0:
        return 0
    return hop


class WindowRunModel(nn.Module):
    """``ScoringModel`` over runs of windows (see the module docstring).

    Keeps ``net`` (and so the ``net.frontend`` scope the exporter names
    ``log_mel`` by) as its child; ``log_mel`` is then the run's frames,
    ``[batch, 1, n_mels, n_frames + k * run_hop / hop_length]``.
    """

    def __init__(self, scoring: ScoringModel) -> None:
        super().__init__()
        spec = scoring.net.config.spec
        hop = run_hop_samples(scoring.net.config)
        if not hop:
            raise ExportError("this feature spec cannot score runs of windows (needs center=False "
                              "and window and hop multiples of hop_length)")
        frontend = scoring.net.frontend
        self.net = scoring.net
        self.net.frontend = frontend if isinstance(frontend, MatmulLogMel) else MatmulLogMel(frontend)
        self.net.frontend.any_length = True
        self.softmax = scoring.softmax
        self.window_frames = spec.n_frames
        self.hop_frames = hop // spec.hop_length

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if isinstance(self.net.body, StreamBody):
            logits = self._stream_logits(waveform)
        else:
            logits = self._window_logits(waveform)
        return torch.softmax(logits, dim=-1) if self.softmax else torch.sigmoid(logits)

    def _stream_logits(self, waveform: torch.Tensor) -> torch.Tensor:
        """Frames and trunk once over the run; each window pools its own positions."""
        body = self.net.body
        maps = body.trunk(self.net.frontend(waveform))  # [B, C, positions of the run]
        width = stream_positions(self.window_frames)
        windows = maps.unfold(2, width, self.hop_frames // STREAM_STRIDE_FRAMES)  # [B, C, W, width]
        batch, channels, n_windows = windows.shape[0], windows.shape[1], windows.shape[2]
        rows = windows.permute(0, 2, 1, 3).reshape(batch * n_windows, channels, width)
        return body.head(rows)

    def _window_logits(self, waveform: torch.Tensor) -> torch.Tensor:
        """Frames once over the run; the body once per window."""
        mel = self.net.frontend(waveform)[:, 0]  # [B, n_mels, F]: each frame once
        batch, n_mels = mel.shape[0], mel.shape[1]
        n_windows = (mel.shape[2] - self.window_frames) // self.hop_frames + 1
        starts = torch.arange(n_windows, device=mel.device) * self.hop_frames
        index = starts[:, None] + torch.arange(self.window_frames, device=mel.device)[None, :]
        windows = mel[:, :, index]  # [B, n_mels, n_windows, window_frames]
        features = windows.permute(0, 2, 1, 3).reshape(batch * n_windows, 1, n_mels, self.window_frames)
        return self.net.body(self.net.norm(features))
