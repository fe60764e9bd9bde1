"""Worker tasks on scoring alone: per-window latency, and the frame-once experiment vs one graph.

``latency``: :meth:`monitor.scorer.Scorer.score` on one window at a time (what
the live path does each hop), 1 onnxruntime thread, after a warm-up.

``frameonce``: the same stream scored by the real :class:`~monitor.pipeline.Pipeline`
(one graph, raw windows) and by :class:`~bench.frameonce.FrameOnceScorer`
(variants ``stream`` and ``exact``) at one hop, interleaved, with the monitor's
detector on each; reports times, score differences and whether events match.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Final

import numpy as np
import onnxruntime as ort

from bench.breakdown import stream_windows
from bench.frameonce import FrameGeometry, FrameOnceScorer
from bench.replay_cli import START_TIME
from monitor import cliargs
from monitor.context import StreamContext
from monitor.detector import Bout, CoughDetector, DetectorSettings, Framing
from monitor.modelfile import load_model
from monitor.outputs import EventRecorder
from monitor.pipeline import Pipeline
from monitor.scorer import DEFAULT_BATCH_WINDOWS, Scorer
from monitor.sources import FileSource

WARMUP_CALLS: Final = 20
VARIANTS: Final = ("stream", "exact")


def task_latency(params: dict[str, Any]) -> dict[str, Any]:
    """Milliseconds per ``Scorer.score`` call on one window (p50, p90, p99, mean, max)."""
    model = load_model(params["model"], threads=1)
    spec = model.info.spec
    scorer = Scorer(model)
    n = int(params["windows"])
    windows = stream_windows(params["wav"], spec.sample_rate, spec.window_samples,
                              spec.window_samples // 4, min(n, 400))
    for i in range(WARMUP_CALLS):
        scorer.score(windows[i % len(windows)][None])
    ms = np.empty(n)
    for i in range(n):
        row = windows[i % len(windows)][None]
        began = time.perf_counter()
        scorer.score(row)
        ms[i] = (time.perf_counter() - began) * 1000
    return {"ms": {"p50": float(np.percentile(ms, 50)), "p90": float(np.percentile(ms, 90)),
                   "p99": float(np.percentile(ms, 99)), "mean": float(ms.mean()),
                   "max": float(ms.max())}, "calls": n}


def _session(path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    options.log_severity_level = 3
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def task_frameonce(params: dict[str, Any]) -> dict[str, Any]:
    """One graph vs frame-once (both variants) at ``hop_samples``, ``repeats`` interleaved rounds."""
    model = load_model(params["model"], threads=1)
    geometry = FrameGeometry(**params["geometry"])
    sessions = {name: _session(path) for name, path in params["split"].items()}
    hop = int(params["hop_samples"])
    spec = model.info.spec
    framing = Framing(spec.sample_rate, spec.window_samples, hop)
    threshold = float(params["threshold"])
    off = params.get("threshold_off")
    settings = DetectorSettings(threshold_on=threshold,
                                threshold_off=cliargs.OFF_RATIO * threshold if off is None else float(off))
    seconds: dict[str, list[float]] = {"one_graph": [], **{v: [] for v in VARIANTS}}
    results: dict[str, tuple[np.ndarray, list[tuple[int, int]]]] = {}
    for _ in range(int(params["repeats"])):
        began = time.perf_counter()
        results["one_graph"] = _one_graph(model, params["wav"], framing, settings)
        seconds["one_graph"].append(time.perf_counter() - began)
        for variant in VARIANTS:
            began = time.perf_counter()
            results[variant] = _frame_once(sessions, geometry, params["wav"], framing, settings,
                                           exact=variant == "exact")
            seconds[variant].append(time.perf_counter() - began)
    ref_scores, ref_events = results["one_graph"]
    compare = {}
    for variant in VARIANTS:
        scores, events = results[variant]
        diff = np.abs(scores - ref_scores) if len(scores) == len(ref_scores) else np.array([np.inf])
        compare[variant] = {"max_score_diff": float(diff.max()), "p99_score_diff": float(np.percentile(diff, 99)),
                            "events": len(events), "events_equal": events == ref_events}
    return {"seconds": seconds, "compare": compare, "events_one_graph": len(ref_events),
            "windows": len(ref_scores), "score_range": [float(ref_scores.min()), float(ref_scores.max())]}


def _block_s(framing: Framing) -> float:
    """Fast replay's block length (``monitor.replay``: about one batch of windows per block)."""
    return max(1.0, DEFAULT_BATCH_WINDOWS * framing.hop_samples / framing.sample_rate)


def _one_graph(model: Any, wav: str, framing: Framing,
               settings: DetectorSettings) -> tuple[np.ndarray, list[tuple[int, int]]]:
    source = FileSource(Path(wav), framing.sample_rate, _block_s(framing))
    context = StreamContext.for_model(model, "bench", source.name, cliargs.parse_start_time(START_TIME))
    recorder, scores = EventRecorder(), []
    pipeline = Pipeline(Scorer(model), context, settings, framing.hop_samples, sinks=[recorder],
                        score_listeners=[lambda _starts, s: scores.append(s[:, 0].copy())],
                        batch_windows=DEFAULT_BATCH_WINDOWS)
    pipeline.run(source)
    return np.concatenate(scores), [(e.start_sample, e.end_sample) for e in recorder.events]


def _frame_once(sessions: dict[str, Any], geometry: FrameGeometry, wav: str, framing: Framing,
                settings: DetectorSettings, exact: bool) -> tuple[np.ndarray, list[tuple[int, int]]]:
    source = FileSource(Path(wav), framing.sample_rate, _block_s(framing))
    scorer = FrameOnceScorer(sessions, geometry, framing.hop_samples, DEFAULT_BATCH_WINDOWS, exact)
    detector = CoughDetector("cough", settings, framing)
    scores, bouts = [], []

    def feed(starts: np.ndarray, batch: np.ndarray) -> None:
        scores.append(batch[:, 0])
        for start, score in zip(starts.tolist(), batch[:, 0].tolist(), strict=True):
            bouts.extend(r for r in detector.update(score, start) if isinstance(r, Bout))

    for _, block in source.blocks():
        feed(*scorer.push(block))
    feed(*scorer.finish())
    bouts.extend(detector.flush())
    return np.concatenate(scores), [(b.start_sample, b.end_sample) for b in bouts]
