"""Fixtures: small coughwatch ONNX models built in the test, no torch needed.

``energy_model`` is a hand-built graph with the real I/O contract and metadata:
score = sigmoid(gain * (ln(mean(x^2) + 1e-10) - ln_threshold)); loud windows
(the synthetic coughs) score high, the quiet background low. Monitor tests use
it so they exercise real onnxruntime without a trained network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from monitor.scoring.modelfile import FeatureSpecInfo, ModelInfo


def make_energy_model(
    path: Path,
    sample_rate: int = 16000,
    window_samples: int = 16000,
    labels: tuple[str, ...] = ("cough",),
    task: str = "binary",
    threshold: float = 0.5,
    ln_threshold: float = -6.9,
    gain: float = 1.5,
    info_override: dict[str, str] | None = None,
) -> Path:
    """Write an energy-detector ONNX model with coughwatch metadata to ``path``."""
    n_out = len(labels)
    nodes = [
        helper.make_node("Mul", ["waveform", "waveform"], ["sq"]),
        helper.make_node("ReduceMean", ["sq", "axes"], ["ms"], keepdims=1),
        helper.make_node("Add", ["ms", "eps"], ["ms_eps"]),
        helper.make_node("Log", ["ms_eps"], ["ln"]),
        helper.make_node("Sub", ["ln", "lnthr"], ["centred"]),
        helper.make_node("Mul", ["centred", "gain"], ["logit1"]),
        helper.make_node("Mul", ["logit1", "signs"], ["logits"]),  # [B,1]*[n_out] -> [B,n_out]
        helper.make_node("Sigmoid", ["logits"], ["scores"]),
    ]
    signs = np.ones(n_out, dtype=np.float32)
    signs[1:] = -1.0  # extra classes light up on quiet windows
    inits = [
        helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
        helper.make_tensor("eps", TensorProto.FLOAT, [], [1e-10]),
        helper.make_tensor("lnthr", TensorProto.FLOAT, [], [ln_threshold]),
        helper.make_tensor("gain", TensorProto.FLOAT, [], [gain]),
        helper.make_tensor("signs", TensorProto.FLOAT, [n_out], signs.tolist()),
    ]
    graph = helper.make_graph(
        nodes,
        "energy",
        [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, ["batch", window_samples])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", n_out])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    spec = FeatureSpecInfo(sample_rate, window_samples, 512, 256, 64, 50.0, sample_rate / 2, 1e-6)
    info = ModelInfo(
        spec=spec, task=task, labels=labels, threshold=threshold,
        event_labels=labels[:1], name="energy-test", preset="test",
    )
    props = info.to_metadata_props()
    props.update(info_override or {})
    helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path))
    return path


@pytest.fixture(scope="session")
def energy_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16 kHz, 1 s window energy-detector model file (binary, label 'cough')."""
    return make_energy_model(tmp_path_factory.mktemp("models") / "energy.onnx")
