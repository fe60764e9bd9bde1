"""bench.ceiling: multiply-adds counted from onnxruntime's profile of a real model file,
and onnxruntime's GEMM rate, the two halves of replay's arithmetic ceiling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from bench.ceiling import graph_macs, node_macs, task_gemm_peak


def _conv_matmul_gemm_model(path: Path) -> Path:
    """``waveform [B, 64]`` -> Conv(4 x 1 x 3 x 3, pad 1) on 8 x 8 -> MatMul by [8, 5]
    -> Flatten -> Gemm to 2 outputs (weight stored transposed, ``transB=1``)."""
    rng = np.random.default_rng(0)
    init = [
        numpy_helper.from_array(np.array([-1, 1, 8, 8], np.int64), "shape"),
        numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), "w_conv"),
        numpy_helper.from_array(rng.standard_normal((8, 5)).astype(np.float32), "w_mm"),
        numpy_helper.from_array(rng.standard_normal((2, 160)).astype(np.float32), "w_gemm"),
    ]
    nodes = [
        helper.make_node("Reshape", ["waveform", "shape"], ["image"], name="reshape"),
        helper.make_node("Conv", ["image", "w_conv"], ["maps"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("MatMul", ["maps", "w_mm"], ["mixed"], name="matmul"),
        helper.make_node("Flatten", ["mixed"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "w_gemm"], ["score"], name="gemm", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "macs", [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch", 2])], init)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.save(proto, path)
    return path


def test_counts_every_conv_matmul_and_gemm_for_the_batch_and_splits_by_node(tmp_path):
    model = _conv_matmul_gemm_model(tmp_path / "m.onnx")
    feed = np.zeros((3, 64), np.float32)
    conv = 3 * 4 * 8 * 8 * 9  # output elements x (1 input channel x 3 x 3)
    matmul = 3 * 4 * 8 * 5 * 8  # output [3, 4, 8, 5] x inner 8
    gemm = 3 * 2 * 160
    macs = graph_macs(model, feed, {"conv"}, tmp_path)
    assert macs == {"frontend": conv, "network": matmul + gemm}
    assert not list(tmp_path.glob("macs-*.json"))  # the profile is removed


def test_node_macs_ignores_element_wise_ops_and_reads_transposed_gemm():
    assert node_macs("Relu", [[2, 3]], [2, 3]) == 0
    assert node_macs("Gemm", [[160, 3], [160, 2]], [3, 2]) == 3 * 2 * 160  # transA
    assert node_macs("Conv", [[1, 8, 5, 5], [4, 2, 3, 3]], [1, 4, 3, 3]) == 36 * 18  # group 4


def test_gemm_peak_is_a_real_measurement():
    out = task_gemm_peak({"size": 256, "repeats": 3})
    assert out["size"] == 256
    assert 1e8 < out["mac_per_s_median"] <= out["mac_per_s_best"]
