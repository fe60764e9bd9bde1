"""Exported ONNX files score like torch, for every preset and task, and the check can fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from fx_export import make_checkpoint

from export.errors import ParityError
from export.onnx_export import LOG_MEL_NAME, export_onnx
from export.parity import LOG_MEL_TOLERANCE, SCORE_TOLERANCE, check_parity
from export.probes import parity_probes, synthetic_labelled
from monitor.scoring.modelfile import load_model

pytestmark = pytest.mark.train

MATRIX = [
    pytest.param("default", "binary", id="default-binary"),
    pytest.param("fast", "binary", id="fast-binary"),
    pytest.param("default", "regression", id="default-regression", marks=pytest.mark.slow),
    pytest.param("default", "multiclass", id="default-multiclass", marks=pytest.mark.slow),
    pytest.param("seed", "binary", id="seed-binary", marks=pytest.mark.slow),
    pytest.param("seed-log", "binary", id="seed-log-binary", marks=pytest.mark.slow),
]


def _groups(checkpoint) -> dict:
    spec = checkpoint.config.spec
    return {"probes": parity_probes(spec.sample_rate, spec.window_samples),
            "synthetic": synthetic_labelled(spec.sample_rate, spec.window_samples, 4)}


@pytest.mark.parametrize(("preset", "task"), MATRIX)
def test_onnx_matches_torch(tmp_path: Path, preset: str, task: str):
    checkpoint = make_checkpoint(preset, task, seed=3)
    path = tmp_path / f"{preset}-{task}.onnx"
    export_onnx(checkpoint, path)
    report = check_parity(checkpoint, path, _groups(checkpoint))
    assert report.ok
    assert report.score_diff <= SCORE_TOLERANCE
    assert report.log_mel_diff <= LOG_MEL_TOLERANCE
    model = load_model(path)
    spec = checkpoint.config.spec
    assert (model.info.spec.sample_rate, model.info.spec.window_samples) == (spec.sample_rate, spec.window_samples)
    scores = model.session.run(["scores"], {"waveform": np.zeros((3, spec.window_samples), np.float32)})[0]
    assert scores.shape == (3, len(checkpoint.labels))
    if task == "multiclass":
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)


def test_shipped_file_has_only_waveform_in_scores_out(default_onnx: Path):
    graph = onnx.load(str(default_onnx)).graph
    assert [i.name for i in graph.input] == ["waveform"]
    assert [o.name for o in graph.output] == ["scores"]
    assert any(LOG_MEL_NAME in node.output for node in graph.node)


def test_no_exporter_debug_info_or_machine_paths(default_onnx: Path):
    data = default_onnx.read_bytes()
    assert b"stack_trace" not in data
    assert str(Path.cwd()).encode() not in data
    assert not any(node.metadata_props for node in onnx.load(str(default_onnx)).graph.node)


def _perturb(path: Path, initializer: str, scale: float) -> None:
    proto = onnx.load(str(path))
    tensor = next(t for t in proto.graph.initializer if t.name == initializer)
    values = onnx.numpy_helper.to_array(tensor) * scale
    tensor.CopyFrom(onnx.numpy_helper.from_array(values.astype(np.float32), initializer))
    onnx.save_model(proto, str(path))


def test_changed_weight_fails_with_numbers(tmp_path: Path, default_checkpoint, default_onnx: Path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(default_onnx.read_bytes())
    _perturb(broken, "net.body.linear.weight", 1.01)
    with pytest.raises(ParityError, match=r"\|Δscore\| \d\.\de-0\d") as info:
        check_parity(default_checkpoint, broken, _groups(default_checkpoint))
    assert "\n" not in str(info.value)


def test_changed_mel_filterbank_fails_on_log_mel(tmp_path: Path, default_checkpoint, default_onnx: Path):
    broken = tmp_path / "broken-mel.onnx"
    broken.write_bytes(default_onnx.read_bytes())
    _perturb(broken, "net.frontend.mel_fb", 1.001)  # +0.001 in log: 10x the tolerance
    with pytest.raises(ParityError, match="log-mel") as info:
        check_parity(default_checkpoint, broken, _groups(default_checkpoint))
    message = str(info.value)
    reported = float(message.split("|Δlog-mel| ")[1].split()[0])
    assert reported == pytest.approx(np.log(1.001), rel=0.05)
