"""Prove an exported file scores like the torch model it came from.

Checks, on every export: ``onnx.checker`` on the saved file, then onnxruntime
vs torch (float32, CPU) on the :mod:`export.probes` windows and the run's
validation clips, batched, one window at a time and (models that score runs of
windows) joined end to end as one run; a context model (state in and out) also fed that
run window by window with its state carried, against torch over the whole run:

* scores: max ``|onnx - torch|`` <= :data:`SCORE_TOLERANCE`;
* log-mel (the graph's ``log_mel`` value, read through an extra output added
  to an in-memory copy; the shipped file keeps ``waveform -> scores``):
  max ``|Δ log(mel)|`` over the bins within :data:`MEL_FLOOR_DB` of the
  window's loudest bin <= :data:`LOG_MEL_TOLERANCE`, and on every bin
  ``|Δ mel power|`` <= :data:`MEL_POWER_TOLERANCE` x the window's loudest
  bin. Why two: float32 STFT rounding is absolute, about 1e-6 of the window's
  peak power (measured on 1,200 real clips), so a bin 40 dB down already
  differs by ~1e-4 in log and leakage bins 80+ dB down by ~4e-3 (reported,
  not gated). Raw-power presets (``seed``) are compared as ``log(mel)`` too.
  ``log_mel`` is LogMel's output, before any ``window_mean`` normalisation
  (a layer of the body): the float32 rounding of that ~3,000-bin mean moves
  every bin by up to ~1e-4 and is judged through the scores, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import onnx
import onnxruntime as ort
import torch
from numpy.lib.stride_tricks import sliding_window_view

from export.errors import ParityError
from export.onnx_export import LOG_MEL_NAME
from export.probes import Window, stack
from export.window_runs import run_hop_samples
from monitor.scoring.modelfile import INPUT_NAME, OUTPUT_NAME, STATE_INPUT_NAME, STATE_OUTPUT_NAME
from train.models import Checkpoint, ScoringModel

SCORE_TOLERANCE: Final = 1e-4
LOG_MEL_TOLERANCE: Final = 1e-4
MEL_FLOOR_DB: Final = 40.0
MEL_POWER_TOLERANCE: Final = 1e-5
_TINY: Final = 1e-30
_CHUNK: Final = 64
_RUN_WINDOWS: Final = 8
"""Windows of a group joined end to end into the run that runs are checked on."""


@dataclass(frozen=True)
class GroupParity:
    """Worst differences over one group of windows (probes or validation clips)."""

    group: str
    n_windows: int
    score_diff: float
    """max |onnx - torch| over every score of the group (batched and batch-1 runs)."""
    log_mel_diff: float
    """max |Δ log mel| over bins within MEL_FLOOR_DB of each window's peak."""
    mel_power_diff: float
    """max |Δ mel power| / the window's peak mel power, over every bin."""
    log_mel_diff_all: float
    """The same over every bin (informative)."""
    worst: str
    """Name of the window with the largest score difference."""


@dataclass(frozen=True)
class ParityReport:
    """Result of :func:`check_parity`; ``ok`` when every group is within tolerance."""

    groups: tuple[GroupParity, ...]

    @property
    def score_diff(self) -> float:
        return max(g.score_diff for g in self.groups)

    @property
    def log_mel_diff(self) -> float:
        return max(g.log_mel_diff for g in self.groups)

    @property
    def mel_power_diff(self) -> float:
        return max(g.mel_power_diff for g in self.groups)

    @property
    def ok(self) -> bool:
        return (self.score_diff <= SCORE_TOLERANCE and self.log_mel_diff <= LOG_MEL_TOLERANCE
                and self.mel_power_diff <= MEL_POWER_TOLERANCE)

    def lines(self) -> list[str]:
        """Human-readable report, one line per group."""
        return [
            f"parity {g.group} ({g.n_windows} windows): |Δscore| {g.score_diff:.1e} "
            f"(<= {SCORE_TOLERANCE:g}); |Δlog-mel| {g.log_mel_diff:.1e} within "
            f"{MEL_FLOOR_DB:g} dB of peak (<= {LOG_MEL_TOLERANCE:g}), {g.log_mel_diff_all:.1e} "
            f"all bins; |Δmel|/peak {g.mel_power_diff:.1e} (<= {MEL_POWER_TOLERANCE:g}); "
            f"worst score: {g.worst}"
            for g in self.groups
        ]


def check_parity(checkpoint: Checkpoint, onnx_path: Path, groups: dict[str, list[Window]]) -> ParityReport:
    """Compare ``onnx_path`` with ``checkpoint`` on each non-empty group; raise on failure.

    Raises :class:`ParityError` with the numbers when ``onnx.checker`` fails or a
    difference exceeds its tolerance.
    """
    try:
        onnx.checker.check_model(str(onnx_path), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ParityError(f"{onnx_path}: onnx.checker: {str(exc).strip().splitlines()[0]}") from None
    model = ScoringModel(checkpoint.build()).eval()
    shipped = _session(onnx.load(str(onnx_path)))
    with_mel = _session(_with_log_mel_output(onnx.load(str(onnx_path))))
    results = [
        _compare(name, windows, model, shipped, with_mel) for name, windows in groups.items() if windows
    ]
    report = ParityReport(tuple(results))
    if not report.ok:
        raise ParityError(f"{onnx_path}: ONNX does not match torch: " + "; ".join(report.lines()))
    return report


def _compare(group: str, windows: list[Window], model: ScoringModel, shipped: ort.InferenceSession,
             with_mel: ort.InferenceSession) -> GroupParity:
    batch = stack(windows)
    ref_scores, ref_mel = _torch_outputs(model, batch)
    batched = np.concatenate([shipped.run([OUTPUT_NAME], _feed(shipped, c))[0] for c in _chunks(batch)])
    single = np.concatenate([shipped.run([OUTPUT_NAME], _feed(shipped, row[None]))[0] for row in batch])
    ort_mel = np.concatenate([with_mel.run([LOG_MEL_NAME], _feed(with_mel, c))[0] for c in _chunks(batch)])
    per_window = np.maximum(np.abs(batched - ref_scores), np.abs(single - ref_scores)).max(axis=1)
    gated, power, everything = _mel_diffs(ref_mel, ort_mel, model.net.config.spec.log)
    run_diff = _run_diff(model, shipped, batch)
    worst = windows[int(per_window.argmax())].name if per_window.max() >= run_diff else "a run of windows"
    return GroupParity(group, len(windows), float(max(per_window.max(), run_diff)), gated, power,
                       everything, worst)


def _run_diff(model: ScoringModel, shipped: ort.InferenceSession, batch: np.ndarray) -> float:
    """max |onnx - torch| when the group's windows, end to end, go in as ONE run
    (models with ``run_hop_samples``); torch scores every hop-spaced window alone. 0 otherwise."""
    hop = run_hop_samples(model.net.config)
    if not hop:
        return 0.0
    audio = batch[:_RUN_WINDOWS].reshape(-1)
    windows = np.ascontiguousarray(sliding_window_view(audio, batch.shape[1])[::hop])
    run = audio[: (len(windows) - 1) * hop + batch.shape[1]]
    if _state_size(shipped):
        return _context_run_diff(model, shipped, run, batch.shape[1], hop)
    got = shipped.run([OUTPUT_NAME], {INPUT_NAME: run[None, :]})[0]
    ref, _ = _torch_outputs(model, windows)
    return float(np.abs(got - ref).max())


def _context_run_diff(model: ScoringModel, shipped: ort.InferenceSession, run: np.ndarray,
                      window: int, hop: int) -> float:
    """max |onnx - torch| of a context model over ``run`` from a zero state: onnxruntime fed the
    run whole and window by window (state carried), torch over the whole run."""
    with torch.inference_mode():
        x = torch.from_numpy(run[None, :])
        logits, _, _ = model.net.sequence(x, model.net.body.context.initial_state(1))
        ref = torch.sigmoid(logits[0]).numpy()
    whole = shipped.run([OUTPUT_NAME], _feed(shipped, run[None, :]))[0]
    state = np.zeros((1, _state_size(shipped)), np.float32)
    pieces = []
    for start in range(0, len(run) - window + 1, hop):
        scores, state = shipped.run([OUTPUT_NAME, STATE_OUTPUT_NAME],
                                    {INPUT_NAME: run[None, start:start + window], STATE_INPUT_NAME: state})
        pieces.append(scores)
    return float(max(np.abs(whole - ref).max(), np.abs(np.concatenate(pieces) - ref).max()))


def _state_size(session: ort.InferenceSession) -> int:
    """Floats of state of a context model's session; 0 for a stateless one."""
    state = next((i for i in session.get_inputs() if i.name == STATE_INPUT_NAME), None)
    return int(state.shape[1]) if state is not None else 0


def _feed(session: ort.InferenceSession, waveform: np.ndarray) -> dict[str, np.ndarray]:
    """The inputs for ``waveform`` rows, each at the start of a stream (zero state, if any)."""
    feed = {INPUT_NAME: waveform}
    if size := _state_size(session):
        feed[STATE_INPUT_NAME] = np.zeros((len(waveform), size), np.float32)
    return feed


def _torch_outputs(model: ScoringModel, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores, mels = [], []
    with torch.inference_mode():
        for chunk in _chunks(batch):
            x = torch.from_numpy(chunk)
            scores.append(model(x).numpy())
            mels.append(model.net.frontend(x).numpy())
    return np.concatenate(scores), np.concatenate(mels)


def _mel_diffs(ref: np.ndarray, got: np.ndarray, is_log: bool) -> tuple[float, float, float]:
    """(max |Δ log| within MEL_FLOOR_DB of each window's peak, max |Δ power| / peak, max |Δ log|)."""
    ref_log, got_log = _as_log(ref, is_log), _as_log(got, is_log)
    diff = np.abs(ref_log - got_log)
    peak = ref_log.max(axis=1, keepdims=True)
    floor = peak - MEL_FLOOR_DB * np.log(10.0) / 10.0
    gated = np.where(ref_log >= floor, diff, 0.0)
    power = np.abs(np.exp(ref_log - peak) - np.exp(got_log - peak))
    return float(gated.max()), float(power.max()), float(diff.max())


def _as_log(mel: np.ndarray, is_log: bool) -> np.ndarray:
    """float64 ``[batch, bins]`` natural-log mel (raw power presets are logged here)."""
    flat = mel.reshape(len(mel), -1).astype(np.float64)
    return flat if is_log else np.log(np.maximum(flat, 0.0) + _TINY)


def _with_log_mel_output(proto: onnx.ModelProto) -> onnx.ModelProto:
    proto.graph.output.append(onnx.helper.make_tensor_value_info(LOG_MEL_NAME, onnx.TensorProto.FLOAT, None))
    return proto


def _session(proto: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _chunks(batch: np.ndarray) -> list[np.ndarray]:
    return [batch[i : i + _CHUNK] for i in range(0, len(batch), _CHUNK)]
