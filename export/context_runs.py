"""The exported form of a context model (``stream_ctx``): runs of windows with explicit state.

* inputs ``waveform`` float32 ``[batch, window_samples + k * run_hop]`` (``k >= 0``, dynamic),
  mono at ``spec.sample_rate``, and ``state`` float32 ``[batch, state_size]`` (zeros at the
  start of a stream);
* outputs ``scores`` float32 ``[batch * (k + 1), n_outputs]`` (row ``b * (k + 1) + i`` scores
  the window starting at sample ``i * run_hop`` of row ``b``) and ``state_out``
  ``[batch, state_size]``, the state to pass with the run that starts at the next window.

Frames and the convolutional trunk run once over the run; the causal stage reads its
past from ``state``. Feeding a stream window by window (``k = 0``, live) or in runs of any
length (replay) gives the same scores.
"""

from __future__ import annotations

import torch
from torch import nn

from export.frontend import MatmulLogMel
from train.models import ScoringModel


class ContextRunModel(nn.Module):
    """``ScoringModel`` of a ``stream_ctx`` network as the stateful run graph above."""

    def __init__(self, scoring: ScoringModel) -> None:
        super().__init__()
        frontend = scoring.net.frontend
        self.net = scoring.net
        self.net.frontend = frontend if isinstance(frontend, MatmulLogMel) else MatmulLogMel(frontend)
        self.net.frontend.any_length = True

    @property
    def state_size(self) -> int:
        """Floats of state per stream."""
        return self.net.body.context.state_size

    def forward(self, waveform: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, _, state_out = self.net.sequence(waveform, state)
        return torch.sigmoid(logits.reshape(-1, logits.shape[-1])), state_out
