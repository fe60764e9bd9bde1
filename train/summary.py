"""A layer-by-layer model summary (what torchsummary prints), via forward hooks.

One row per leaf module in call order: name, type, output shape, parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from train.features import LogMel


@dataclass(frozen=True)
class LayerRow:
    """One leaf module's line in the summary."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    parameters: int


def layer_rows(
    model: nn.Module, example: torch.Tensor, also: tuple[type[nn.Module], ...] = (LogMel,)
) -> list[LayerRow]:
    """Run ``example`` through ``model`` (eval, no grad) and record the output of every leaf
    module and of every module of a type in ``also`` (the log-mel front end as a whole)."""
    rows: list[LayerRow] = []
    handles = []
    for name, module in model.named_modules():
        if next(module.children(), None) is not None and not isinstance(module, also):
            continue
        handles.append(module.register_forward_hook(_recorder(rows, name, module)))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return rows


def _recorder(rows: list[LayerRow], name: str, module: nn.Module):  # noqa: ANN202 - hook closure
    params = sum(p.numel() for p in module.parameters(recurse=False))

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else ()
        rows.append(LayerRow(name, type(module).__name__, shape, params))

    return hook


def summary_text(model: nn.Module, example: torch.Tensor) -> str:
    """The summary table as text, with input shape and total / trainable parameter counts."""
    rows = layer_rows(model, example)
    header = f"{'layer':<28} {'type':<18} {'output shape':<22} {'params':>10}"
    lines = [f"input: {list(example.shape)} float32 waveform", header, "-" * len(header)]
    for row in rows:
        shape = str(list(row.output_shape))
        lines.append(f"{row.name:<28} {row.kind:<18} {shape:<22} {row.parameters:>10,}")
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lines += ["-" * len(header), f"total parameters: {total:,}", f"trainable parameters: {trainable:,}"]
    return "\n".join(lines)
