"""``--quantize int8``: smaller file, float front end, measured AUC, refusal unless --force."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from export import cli
from export.probes import parity_probes, stack
from export.quantize import frontend_nodes, roc_auc
from monitor.scoring.modelfile import load_model

pytestmark = pytest.mark.train


def test_roc_auc_counts_ties_half():
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.4])
    positive = np.array([False, False, True, True, True])
    assert roc_auc(scores, positive) == pytest.approx(4.5 / 6)
    assert roc_auc(np.array([0.2, 0.9]), np.array([False, True])) == 1.0
    assert np.isnan(roc_auc(np.array([0.2, 0.9]), np.array([True, True])))


@pytest.mark.slow
def test_int8_file_is_smaller_loads_and_keeps_front_end_float(tmp_path: Path, default_run: Path,
                                                             default_onnx: Path, capsys):
    out = tmp_path / "int8.onnx"
    assert cli.main([str(default_run), "--out", str(out), "--quantize", "int8"]) == 0
    stdout = capsys.readouterr().out
    assert "int8 AUC" in stdout and "on 12 validation clips" in stdout and "windows/s" in stdout
    assert out.stat().st_size < 0.7 * default_onnx.stat().st_size
    model = load_model(out)  # the monitor's loader accepts it
    assert "int8" in model.info.extra["quantization"]
    proto = onnx.load(str(out))
    ops = {node.name: node.op_type for node in proto.graph.node}
    assert "QuantizeLinear" in ops.values()
    front = frontend_nodes(proto)
    assert {"MatMul", "Mul", "Log"} <= {ops[name] for name in front}
    assert not {"QuantizeLinear", "DequantizeLinear"} & {ops[name] for name in front}
    batch = stack(parity_probes(16000, 16000))
    int8 = model.session.run(["scores"], {"waveform": batch})[0]
    fp32 = load_model(default_onnx).session.run(["scores"], {"waveform": batch})[0]
    assert np.abs(int8 - fp32).max() < 0.05
    assert "## int8 quantization" in out.with_name("int8.onnx.md").read_text()


@pytest.mark.slow
def test_auc_drop_refused_unless_forced(tmp_path: Path, default_run: Path, capsys, caplog):
    out = tmp_path / "q.onnx"
    args = [str(default_run), "--out", str(out), "--quantize", "int8", "--max-auc-drop", "-1"]
    assert cli.main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("cough-export: error: int8 AUC ") and "\n" not in err
    assert "> -1 on 12 validation clips" in err and "use --force" in err
    assert not out.exists()
    assert cli.main([*args, "--force"]) == 0
    assert "written because of --force" in caplog.text
    assert "int8" in load_model(out).info.extra["quantization"]
