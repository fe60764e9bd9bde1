"""Torch side of the frame-once experiment: split a coughwatch ONNX file into front end and body.

The body is cut out of the shipped file itself (``onnx.utils.Extractor`` from its
``log_mel`` value to ``scores``), so the experiment works for any exported
model, trained or not. The front ends are ``train.features.LogMel`` built from
the file's own feature-spec metadata and exported with the same dynamo
exporter and opset as ``cough-export``: once with ``center=False`` over stream
chunks, and twice with ``center=True`` over the short edge segments, each as
:class:`export.frontend.MatmulLogMel` (the front end ``cough-export`` writes).
"""

from __future__ import annotations

import io
import logging
import warnings
from contextlib import redirect_stdout
from dataclasses import asdict
from pathlib import Path
from typing import Final

import onnx
import torch
from onnx.utils import Extractor

from bench.frameonce import LOG_MEL_INPUT, SCORES_OUTPUT, WAVEFORM_INPUT, FrameGeometry
from export.frontend import MatmulLogMel
from monitor.modelfile import load_model
from train.features import FeatureSpec, LogMel

OPSET: Final = 18
CHUNK_WINDOWS: Final = 1
"""Front-end chunk length in windows (about one window of frames per ONNX row)."""


def split_model(model_path: Path, out_dir: Path) -> tuple[dict[str, str], FrameGeometry]:
    """Write ``frontend``, ``body``, ``left`` and ``right`` ONNX files; return their paths and geometry."""
    spec = FeatureSpec(**asdict(load_model(model_path).info.spec))
    geometry = FrameGeometry(spec.window_samples, spec.n_fft, spec.hop_length, spec.n_mels,
                             chunk_frames=CHUNK_WINDOWS * (spec.window_samples // spec.hop_length))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: str(out_dir / f"{name}.onnx") for name in ("frontend", "body", "left", "right")}
    onnx.save(_body(model_path), paths["body"])
    _export_frontend(spec, geometry.chunk_samples, center=False, path=Path(paths["frontend"]))
    _export_frontend(spec, geometry.left_samples, center=True, path=Path(paths["left"]))
    _export_frontend(spec, geometry.right_samples, center=True, path=Path(paths["right"]))
    return paths, geometry


def _body(model_path: Path) -> onnx.ModelProto:
    proto = onnx.load(str(model_path))
    names = {out for node in proto.graph.node for out in node.output}
    if LOG_MEL_INPUT not in names:
        raise ValueError(f"{model_path}: no '{LOG_MEL_INPUT}' value to cut the graph at")
    return Extractor(proto).extract_model([LOG_MEL_INPUT], [SCORES_OUTPUT])


def _export_frontend(spec: FeatureSpec, n_samples: int, center: bool, path: Path) -> None:
    logmel = LogMel(spec).eval()
    logmel.mel.spectrogram.center = center
    module = MatmulLogMel(logmel, n_samples).eval()  # the front end cough-export writes
    batch = torch.export.Dim("batch", min=1, max=4096)
    with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        program = torch.onnx.export(
            module, (torch.zeros(2, n_samples),), dynamo=True, opset_version=OPSET,
            input_names=[WAVEFORM_INPUT], output_names=["mel"], dynamic_shapes=({0: batch},),
        )  # fmt: skip
    onnx.save(program.model_proto, str(path))
