"""``--quantize int8``: static int8 quantisation of the network, the front end kept float.

Measured on this project's presets (1 CPU thread, batch 1): dynamic
quantisation (ConvInteger/MatMulInteger) made scoring 2-2.5x *slower* than
fp32; static QDQ (per-channel weights, activations calibrated on real or
synthetic windows) halves to thirds the file and roughly halves the network's
time (QLinearConv), while the float front end costs the same. So static QDQ it
is. Every node that computes the log-mel (framing, FFT and mel matmuls, log)
is excluded and stays float32.

The int8 file is judged by validation AUC (validation clips when the run
recorded them and they are on disk, else synthetic windows, labelled so) and
refused when it drops by more than ``max_auc_drop`` unless forced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime import quantization as oq

from export.errors import ExportError, QuantizeRefused
from export.onnx_export import LOG_MEL_NAME
from export.probes import Window, stack
from monitor.scoring.modelfile import INPUT_NAME, KEY_PREFIX, OUTPUT_NAME

log = logging.getLogger(__name__)

QUANTIZED_OPS: Final = ("Conv", "Gemm", "MatMul", "Relu", "MaxPool")
CALIBRATION_BATCH: Final = 16
SPEED_ROUND_S: Final = 0.3
SPEED_ROUNDS: Final = 3


@dataclass(frozen=True)
class QuantReport:
    """fp32 vs int8: size, single-thread speed and validation AUC."""

    fp32_bytes: int
    int8_bytes: int
    fp32_windows_per_s: float
    int8_windows_per_s: float
    auc_fp32: float
    auc_int8: float
    eval_source: str
    """'validation clips' or 'synthetic windows (no validation clips available)'."""
    n_eval: int
    max_score_diff: float
    """max |int8 - fp32| score over the evaluation windows."""

    @property
    def auc_drop(self) -> float:
        return self.auc_fp32 - self.auc_int8

    def lines(self) -> list[str]:
        """Human-readable report."""
        return [
            f"int8 size {self.int8_bytes / 1024:.0f} KiB vs fp32 {self.fp32_bytes / 1024:.0f} KiB "
            f"({self.int8_bytes / self.fp32_bytes:.0%})",
            f"int8 speed {self.int8_windows_per_s:.0f} windows/s vs fp32 "
            f"{self.fp32_windows_per_s:.0f} (1 thread, batch 1)",
            f"int8 AUC {self.auc_int8:.4f} vs fp32 {self.auc_fp32:.4f} (drop {self.auc_drop:+.4f}) "
            f"on {self.n_eval} {self.eval_source}; max |Δscore| {self.max_score_diff:.4f}",
        ]


def frontend_nodes(proto: onnx.ModelProto) -> list[str]:
    """Names of every node :data:`LOG_MEL_NAME` depends on (the float front end)."""
    producer = {out: node for node in proto.graph.node for out in node.output}
    if LOG_MEL_NAME not in producer:
        raise ExportError(f"no '{LOG_MEL_NAME}' value in the graph; re-export with this coughwatch")
    names, stack_ = set(), [LOG_MEL_NAME]
    while stack_:
        node = producer.get(stack_.pop())
        if node is not None and node.name not in names:
            names.add(node.name)
            stack_.extend(node.input)
    return sorted(names)


def quantize_int8(fp32_path: Path, int8_path: Path, calibration: list[Window]) -> None:
    """Write the static-QDQ int8 version of ``fp32_path`` to ``int8_path`` (metadata kept)."""
    proto = onnx.load(str(fp32_path))
    excluded = frontend_nodes(proto)
    unnamed = [n for n in proto.graph.node if not n.name]
    if unnamed:
        raise ExportError("graph has unnamed nodes; cannot keep the front end float")
    with _quiet_root_logger():
        oq.quantize_static(
            str(fp32_path), str(int8_path), _Reader(calibration),
            quant_format=oq.QuantFormat.QDQ, per_channel=True,
            op_types_to_quantize=list(QUANTIZED_OPS), nodes_to_exclude=excluded,
            calibrate_method=oq.CalibrationMethod.MinMax,
        )
    _restore_metadata(int8_path, proto, len(calibration))


def compare(fp32_path: Path, int8_path: Path, windows: list[Window], source: str,
            event_columns: list[int]) -> QuantReport:
    """Size, speed and AUC of both files on labelled ``windows``."""
    batch = stack(windows)
    truth = np.array([bool(w.positive) for w in windows])
    fp32, int8 = _session(fp32_path), _session(int8_path)
    s32 = fp32.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
    s8 = int8.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
    return QuantReport(
        fp32_bytes=fp32_path.stat().st_size,
        int8_bytes=int8_path.stat().st_size,
        fp32_windows_per_s=windows_per_second(fp32, batch[:1]),
        int8_windows_per_s=windows_per_second(int8, batch[:1]),
        auc_fp32=roc_auc(s32[:, event_columns].sum(axis=1), truth),
        auc_int8=roc_auc(s8[:, event_columns].sum(axis=1), truth),
        eval_source=source,
        n_eval=len(windows),
        max_score_diff=float(np.abs(s32 - s8).max()),
    )


def enforce(report: QuantReport, max_auc_drop: float, force: bool) -> None:
    """Raise :class:`QuantizeRefused` when the AUC drop exceeds ``max_auc_drop`` and not ``force``."""
    if report.auc_drop <= max_auc_drop:
        return
    message = (f"int8 AUC {report.auc_int8:.4f} vs fp32 {report.auc_fp32:.4f}: drop "
               f"{report.auc_drop:.4f} > {max_auc_drop:g} on {report.n_eval} {report.eval_source}")
    if not force:
        raise QuantizeRefused(f"{message}; not written (use --force to write it anyway)")
    log.warning("%s; written because of --force", message)


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN with one class only."""
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    _, inverse, counts = np.unique(np.concatenate([pos, neg]), return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # 1-based, ties averaged
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def windows_per_second(session: ort.InferenceSession, one: np.ndarray) -> float:
    """Best of :data:`SPEED_ROUNDS` rounds: batch-1 windows scored per second."""
    session.run([OUTPUT_NAME], {INPUT_NAME: one})
    best = 0.0
    for _ in range(SPEED_ROUNDS):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < SPEED_ROUND_S:
            session.run([OUTPUT_NAME], {INPUT_NAME: one})
            count += 1
        best = max(best, count / (time.perf_counter() - start))
    return best


class _Reader(oq.CalibrationDataReader):
    def __init__(self, windows: list[Window]) -> None:
        batch = stack(windows)
        self._feeds = iter([{INPUT_NAME: batch[i : i + CALIBRATION_BATCH]}
                            for i in range(0, len(batch), CALIBRATION_BATCH)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def _restore_metadata(int8_path: Path, source: onnx.ModelProto, n_calibration: int) -> None:
    proto = onnx.load(str(int8_path))
    props = {p.key: p.value for p in source.metadata_props}
    props[KEY_PREFIX + "quantization"] = (
        f"int8 static QDQ, per-channel weights, {', '.join(QUANTIZED_OPS)}; "
        f"front end float32; activations calibrated on {n_calibration} windows"
    )
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    proto.producer_name = source.producer_name
    onnx.save_model(proto, str(int8_path))


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """onnxruntime.quantization logs advice through the root logger; keep stderr clean."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
