"""Score a run of overlapping windows from ONE pass of log-mel frames.

With ``center=False`` framing a window's STFT frames are exactly the frames of
the audio it was cut from, so when consecutive windows start ``run_hop``
samples apart (a whole number of STFT hops) their frames can be computed once
and sliced. :class:`WindowRunModel` is what ``export`` traces for such specs:

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
from monitor.modelfile import DEFAULT_HOP_FRACTION
from train.features import FeatureSpec
from train.models import ScoringModel


def run_hop_samples(spec: FeatureSpec) -> int:
    """Hop in samples between the windows of a run, or 0 when ``spec`` cannot share frames.

    The largest whole number of STFT hops not above a quarter window (the monitor's
    usual hop; it becomes the model's default hop). Sharing needs ``center=False``
    and a window that is a whole number of STFT hops.
    """
    hop = int(spec.window_samples * DEFAULT_HOP_FRACTION) // spec.hop_length * spec.hop_length
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
        hop = run_hop_samples(spec)
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
        mel = self.net.frontend(waveform)[:, 0]  # [B, n_mels, F]: each frame once
        batch, n_mels = mel.shape[0], mel.shape[1]
        n_windows = (mel.shape[2] - self.window_frames) // self.hop_frames + 1
        starts = torch.arange(n_windows, device=mel.device) * self.hop_frames
        index = starts[:, None] + torch.arange(self.window_frames, device=mel.device)[None, :]
        windows = mel[:, :, index]  # [B, n_mels, n_windows, window_frames]
        features = windows.permute(0, 2, 1, 3).reshape(batch * n_windows, 1, n_mels, self.window_frames)
        logits = self.net.body(self.net.norm(features))
        return torch.softmax(logits, dim=-1) if self.softmax else torch.sigmoid(logits)
