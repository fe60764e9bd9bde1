"""Metadata written by export reads back through the monitor's loader; bad files give one clear line."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from monitor.errors import ModelFileError
from monitor.scoring.modelfile import FORMAT_VERSION, FeatureSpecInfo, ModelInfo, load_model

pytestmark = pytest.mark.train


def test_round_trip_through_monitor_loader(default_checkpoint, default_onnx: Path):
    model = load_model(default_onnx)
    info = model.info
    assert info.format_version == FORMAT_VERSION
    assert info.spec == default_checkpoint.config.spec.to_info()
    assert info.task == "binary"
    assert info.labels == ("cough",) and info.event_labels == ("cough",)
    assert info.threshold == pytest.approx(default_checkpoint.threshold)
    assert info.preset == "default" and info.name == "coughwatch-default"
    extra = info.extra
    assert json.loads(extra["metrics"]) == default_checkpoint.metrics
    assert extra["manifest_sha256"] == default_checkpoint.extra["manifest_sha256"]
    assert extra["command"] == "cough-train --test"
    assert extra["seed"] == "0"
    assert extra["torch_version"] == default_checkpoint.extra["torch_version"]
    assert extra["torchaudio_version"] == "2.11.0"
    assert json.loads(extra["data_counts"]) == {"train": 10}
    created = datetime.fromisoformat(extra["created_utc"].replace("Z", "+00:00"))
    assert created.utcoffset().total_seconds() == 0
    assert model.model_id.startswith("coughwatch-default@")


def test_data_counts_give_distinct_training_clips_and_items_per_epoch():
    from export.metadata import data_counts

    assert data_counts({"n_train": 10}) == {"train": 10}  # cough-train lists each clip once
    # the recipe: 7,665 clips, listed 17,112 times per epoch (oversampled coughs, hard
    # negatives, training-stream files)
    assert data_counts({"n_train": 17112, "n_train_clips": 7665}) == {
        "train": 7665, "train_items_per_epoch": 17112}


def _graph_model(path: Path, inputs: list, props: dict[str, str] | None, n_out: int = 1) -> Path:
    """A tiny valid ONNX graph: scores = sigmoid(mean of the input's last axis), n_out columns."""
    nodes = [helper.make_node("Cast", [inputs[0].name], ["x"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=1),
             helper.make_node("Flatten", ["m"], ["f"], axis=1),
             helper.make_node("Tile", ["f", "reps"], ["t"]),
             helper.make_node("Sigmoid", ["t"], ["scores"])]
    inits = [helper.make_tensor("axes", TensorProto.INT64, [1], [-1]),
             helper.make_tensor("reps", TensorProto.INT64, [2], [1, n_out])]
    out = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", n_out])
    graph = helper.make_graph(nodes, "g", inputs, [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    if props:
        helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path))
    return path


def _props(**overrides: str) -> dict[str, str]:
    spec = FeatureSpecInfo(16000, 16000, 512, 320, 64, 50.0, 8000.0, 1e-6)
    props = ModelInfo(spec, "binary", ("cough",), 0.5, ("cough",)).to_metadata_props()
    props.update({f"coughwatch.{k}": v for k, v in overrides.items()})
    return props


def _wave_input(name: str = "waveform", shape: list | None = None, dtype: int = TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape or ["batch", 16000])


def _one_line_error(path: Path) -> str:
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_valid_hand_made_model_loads(tmp_path: Path):
    assert load_model(_graph_model(tmp_path / "ok.onnx", [_wave_input()], _props())).info.task == "binary"


def test_truncated_file(tmp_path: Path, default_onnx: Path):
    path = tmp_path / "truncated.onnx"
    path.write_bytes(default_onnx.read_bytes()[: default_onnx.stat().st_size // 2])
    assert "not a loadable ONNX model" in _one_line_error(path)


def test_not_onnx_at_all(tmp_path: Path):
    path = tmp_path / "notes.onnx"
    path.write_text("these are not the weights you are looking for\n")
    assert "not a loadable ONNX model" in _one_line_error(path)


def test_onnx_without_coughwatch_metadata(tmp_path: Path):
    path = _graph_model(tmp_path / "plain.onnx", [_wave_input()], {"author": "someone"})
    assert "not a coughwatch model" in _one_line_error(path)


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        pytest.param([_wave_input("audio")], "expected one input 'waveform'", id="wrong-name"),
        pytest.param([_wave_input(shape=["batch", 1, 16000])], "float32 [batch, window_samples]", id="3-d"),
        pytest.param([_wave_input(dtype=TensorProto.DOUBLE)], "float32 [batch, window_samples]", id="float64"),
        pytest.param([_wave_input(shape=["batch", 8000])], "8000 samples per window", id="wrong-length"),
    ],
)
def test_wrong_input_signature(tmp_path: Path, inputs: list, expected: str):
    path = _graph_model(tmp_path / "sig.onnx", inputs, _props())
    assert expected in _one_line_error(path)


def test_output_columns_must_match_labels(tmp_path: Path):
    path = _graph_model(tmp_path / "cols.onnx", [_wave_input()], _props(), n_out=3)
    assert "3 columns but 1 labels" in _one_line_error(path)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({"format_version": "99"}, "format version 99", id="future-version"),
        pytest.param({"task": "ranking"}, "unknown task 'ranking'", id="unknown-task"),
        pytest.param({"feature_spec": "{not json"}, "unreadable 'feature_spec' metadata", id="bad-spec"),
        pytest.param({"threshold": "1.5"}, "threshold not in [0, 1]", id="bad-threshold"),
        pytest.param({"run_hop_samples": "-4"}, "run_hop_samples -4 not in [0, window]", id="bad-run-hop"),
        pytest.param({"run_hop_samples": "4000"}, "declares runs (run_hop_samples 4000) but its input "
                     "takes exactly", id="runs-on-a-fixed-input"),
    ],
)
def test_bad_metadata_values(tmp_path: Path, overrides: dict, expected: str):
    path = _graph_model(tmp_path / "meta.onnx", [_wave_input()], _props(**overrides))
    assert expected in _one_line_error(path)


def test_missing_required_keys(tmp_path: Path):
    props = {k: v for k, v in _props().items() if k not in ("coughwatch.labels", "coughwatch.threshold")}
    message = _one_line_error(_graph_model(tmp_path / "missing.onnx", [_wave_input()], props))
    assert "lacks labels, threshold" in message
