"""The arithmetic ceiling of replay: multiply-adds per audio second against the core's GEMM rate.

However well the pipeline is engineered, one core cannot replay faster than its
floating-point rate divided by the multiply-adds the model needs per second of
audio. Two figures give that bound:

- :func:`graph_macs`: the multiply-adds of every ``Conv``, ``MatMul`` and ``Gemm``
  node of a model file for one batch as replay feeds it, read from onnxruntime's
  profiler with graph optimisations off (so the nodes are the file's own, split into
  front end and network like :func:`bench.breakdown.frontend_nodes`). Element-wise
  work is left out: the ceiling is an upper bound.
- :func:`task_gemm_peak` (worker task ``gemm_peak``): onnxruntime's own float32
  ``MatMul`` on large square matrices, 1 thread, on the pinned core: the best rate
  its kernels reach on this CPU, in multiply-adds per second.
"""

from __future__ import annotations

import json
import time
from math import prod
from pathlib import Path
from typing import Any, Final

import numpy as np

GEMM_SIZE: Final = 1024
"""Side of the square float32 matrices of the peak measurement (4 MiB each: L3-resident here)."""
GEMM_REPEATS: Final = 7
COUNTED_OPS: Final = ("Conv", "MatMul", "Gemm")


def node_macs(op: str, inputs: list[list[int]], output: list[int]) -> int:
    """Multiply-adds of one node from its input and output shapes (0 for other ops).

    ``Conv``: output elements x input channels per group x kernel elements (weight
    ``[out, in / group, *kernel]``). ``MatMul``: output elements x the first input's
    last axis. ``Gemm``: output ``[M, N]`` x the first input's axis that is not ``M``
    (profiles do not say whether it was transposed).
    """
    if op == "Conv":
        return prod(output) * prod(inputs[1][1:])
    if op == "MatMul":
        return prod(output) * inputs[0][-1]
    if op == "Gemm":
        a, out = inputs[0], output
        inner = a[1] if a[0] == out[0] else a[0]
        return prod(out) * inner
    return 0


def graph_macs(model_path: Path, feed: np.ndarray, frontend: set[str], work_dir: Path) -> dict[str, int]:
    """Multiply-adds of one ``session.run`` on ``feed`` (float32, the ``waveform`` input),
    split into ``frontend`` (nodes named in ``frontend``) and ``network``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.enable_profiling = True
    options.profile_file_prefix = str(work_dir / f"macs-{model_path.stem}")
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    session.run(None, {"waveform": feed})
    profile = Path(session.end_profiling())
    events = json.loads(profile.read_text())
    profile.unlink(missing_ok=True)
    macs = {"frontend": 0, "network": 0}
    for event in events:
        args = event.get("args", {})
        if event.get("cat") != "Node" or args.get("op_name") not in COUNTED_OPS:
            continue
        if not event["name"].endswith("_kernel_time"):
            continue
        node = event["name"][: -len("_kernel_time")]
        inputs = [_shape(x) for x in args.get("input_type_shape", [])]
        output = _shape(args.get("output_type_shape", [{}])[0])
        macs["frontend" if node in frontend else "network"] += node_macs(args["op_name"], inputs, output)
    return macs


def _shape(typed: dict[str, list[int]]) -> list[int]:
    """``{"float": [2, 3]}`` (a profiler shape) -> ``[2, 3]``."""
    return next(iter(typed.values()), [])


def task_gemm_peak(params: dict[str, Any]) -> dict[str, Any]:
    """Best float32 multiply-adds per second of onnxruntime's ``MatMul`` on one thread:
    ``[n, n] x [n, n]``, best and median of the repeats."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    n = int(params.get("size", GEMM_SIZE))
    a, b, c = (helper.make_tensor_value_info(name, TensorProto.FLOAT, [n, n]) for name in "abc")
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "gemm", [a, b], [c])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {"a": rng.standard_normal((n, n), np.float32), "b": rng.standard_normal((n, n), np.float32)}
    session.run(None, feed)
    rates = []
    for _ in range(int(params.get("repeats", GEMM_REPEATS))):
        began = time.perf_counter()
        session.run(None, feed)
        rates.append(n**3 / (time.perf_counter() - began))
    return {"size": n, "mac_per_s_best": max(rates), "mac_per_s_median": float(np.median(rates))}
