"""Context beyond one window: a causal temporal stage whose state carries from hop to hop.

A cough is one explosive burst; speech is a run of syllables. :class:`ContextBody` keeps
:class:`~train.models.StreamBody`'s convolutional trunk (frames and convolutions computed
once per hop, level-invariant first layer) and adds :class:`CausalStage`: residual causal
dilated 1-D convolutions over the sequence of window embeddings, one per hop, so each
window's score also sees the last few seconds. The stage's only memory is the tail of
each layer's input, an explicit ``state`` tensor that the ONNX graph takes and returns,
so scoring a stream hop by hop, or in runs of any length, gives the same numbers.
"""

from __future__ import annotations

from typing import Final

import torch
from torch import nn

from train.models import StreamBody, mean_max_over_time

CONTEXT_WIDTH: Final = 48
"""Channels of the temporal stage."""
CONTEXT_DILATIONS: Final = (1, 2, 4, 8)
"""Dilation of each causal layer, in hops; with kernel 3 the stage sees 31 hops (7.75 s at 0.25 s)."""
CONTEXT_KERNEL: Final = 3
AUX_LABELS: Final = ("cough", "speech", "throat_clear", "breathing", "sneeze", "laugh", "other")
"""Classes of the auxiliary head: training signal only (the exported model scores ``cough``)."""


class CausalStage(nn.Module):
    """Residual causal dilated convolutions over a sequence ``[batch, steps, in_features]``.

    Layer ``l`` reads its input's last ``(kernel - 1) * dilation_l`` steps from ``state``
    (zeros at the start of a stream), so the output at step ``t`` depends on steps ``<= t``
    only and a stream can be fed in pieces of any length.
    """

    def __init__(self, in_features: int, width: int = CONTEXT_WIDTH,
                 dilations: tuple[int, ...] = CONTEXT_DILATIONS, kernel: int = CONTEXT_KERNEL) -> None:
        super().__init__()
        self.width = width
        self.project = nn.Linear(in_features, width)
        self.convs = nn.ModuleList(nn.Conv1d(width, width, kernel, dilation=d) for d in dilations)
        self.tails = tuple((kernel - 1) * d for d in dilations)

    @property
    def state_size(self) -> int:
        """Floats of state per stream (``width`` x the sum of the layers' tails)."""
        return self.width * sum(self.tails)

    def initial_state(self, batch: int, device: torch.device | None = None) -> torch.Tensor:
        """The state at the start of a stream: zeros float32 ``[batch, state_size]``."""
        return torch.zeros(batch, self.state_size, device=device)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``inputs`` float32 ``[batch, steps, in_features]``, ``state`` ``[batch, state_size]`` ->
        (outputs ``[batch, steps, width]``, the state after the last step)."""
        x = torch.relu(self.project(inputs)).transpose(1, 2)  # [B, width, steps]
        past = state.reshape(state.shape[0], self.width, sum(self.tails))
        offset, tails = 0, []
        for conv, tail in zip(self.convs, self.tails, strict=True):
            full = torch.cat([past[:, :, offset:offset + tail], x], dim=2)
            tails.append(full[:, :, full.shape[2] - tail:])
            x = x + torch.relu(conv(full))
            offset += tail
        return x.transpose(1, 2), torch.cat(tails, dim=2).reshape(state.shape[0], -1)


class ContextBody(StreamBody):
    """:class:`~train.models.StreamBody` + :class:`CausalStage`, one window every ``hop_positions``
    trunk positions (the trunk runs once over a run; windows share its positions).

    A window's embedding is the mean + max of its positions (as ``StreamBody``'s head);
    its logit is ``StreamBody``'s linear on that embedding plus a linear on the causal
    stage's output, so the window's own evidence passes straight through and the context
    corrects it. An auxiliary linear head on the stage's output names what else the sound is
    (:data:`AUX_LABELS`; training only).
    """

    def __init__(self, channels: tuple[int, ...], n_outputs: int, dropout: float, window_positions: int,
                 hop_positions: int = 1) -> None:
        super().__init__(channels, n_outputs, dropout)
        self.window_positions = window_positions
        self.hop_positions = hop_positions
        self.context = CausalStage(2 * channels[-1])
        self.context_out = nn.Linear(self.context.width, n_outputs)
        self.aux = nn.Linear(self.context.width, len(AUX_LABELS))

    def sequence(self, maps: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Feature maps ``[batch, channels, positions]`` of a run, ``state`` ``[batch, state_size]`` ->
        (logits ``[batch, windows, n_outputs]``, aux logits ``[batch, windows, len(AUX_LABELS)]``,
        new state), one window every ``hop_positions`` positions from the first full window on."""
        windows = maps.unfold(2, self.window_positions, self.hop_positions)  # [B, C, W, positions per window]
        batch, channels, n_windows = windows.shape[0], windows.shape[1], windows.shape[2]
        rows = windows.permute(0, 2, 1, 3).reshape(batch * n_windows, channels, self.window_positions)
        embedding = mean_max_over_time(rows).reshape(batch, n_windows, 2 * channels)
        hidden, state = self.context(embedding, state)
        logits = self.linear(self.dropout(embedding)) + self.context_out(self.dropout(hidden))
        return logits, self.aux(hidden), state

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """One window per row, each at the start of a stream (zero state): logits ``[batch, n_outputs]``."""
        maps = self.trunk(features)
        logits, _, _ = self.sequence(maps, self.context.initial_state(maps.shape[0], maps.device))
        return logits[:, -1]
