"""Write a checkpoint as ONE ONNX file: LogMel front end + network + activation.

Graph I/O and metadata keys follow :mod:`monitor.modelfile`.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Mapping
from contextlib import redirect_stdout
from pathlib import Path
from typing import Final

import onnx
import torch

from monitor.modelfile import INPUT_NAME, OUTPUT_NAME, ModelInfo
from train.models import Checkpoint, ScoringModel

log = logging.getLogger(__name__)

DEFAULT_OPSET: Final = 18
"""Verified with torchaudio's MelSpectrogram under the dynamo exporter."""


def model_info(checkpoint: Checkpoint, extra: Mapping[str, str] | None = None) -> ModelInfo:
    """The :class:`ModelInfo` (metadata) describing ``checkpoint``."""
    config = checkpoint.config
    return ModelInfo(
        spec=config.spec.to_info(),
        task=config.task,
        labels=tuple(checkpoint.labels),
        threshold=float(checkpoint.threshold),
        event_labels=tuple(checkpoint.event_labels),
        name=str(checkpoint.extra.get("model_name", f"coughwatch-{config.preset}")),
        preset=config.preset,
        extra=dict(extra or {}),
    )


def export_onnx(
    checkpoint: Checkpoint,
    out_path: Path,
    opset: int = DEFAULT_OPSET,
    extra_metadata: Mapping[str, str] | None = None,
) -> ModelInfo:
    """Export ``checkpoint`` to ``out_path``; return the metadata written.

    Input ``waveform`` float32 ``[batch, window_samples]`` (dynamic batch),
    output ``scores`` float32 ``[batch, n_outputs]`` probabilities.
    """
    scoring = ScoringModel(checkpoint.build()).eval()
    window = checkpoint.config.spec.window_samples
    example = (torch.zeros(2, window),)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            scoring,
            example,
            dynamo=True,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: batch},),
            verbose=False,
        )
    proto = program.model_proto
    info = model_info(checkpoint, extra_metadata)
    del proto.metadata_props[:]
    for key, value in info.to_metadata_props().items():
        onnx.helper.set_model_props(proto, {**_props(proto), key: value})
    proto.producer_name = "coughwatch"
    onnx.checker.check_model(proto, full_check=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, str(out_path))
    return info


def _props(proto: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in proto.metadata_props}
