"""Worker tasks on scoring alone: per-window latency, and runs vs one window per row.

``latency``: :meth:`monitor.scoring.scorer.Scorer.score` on one window at a time (what
the live path does each hop), 1 onnxruntime thread, after a warm-up.

``runs``: the same stream replayed through the real :class:`~monitor.scoring.pipeline.Pipeline`
with the model's runs (consecutive windows as one run of audio, each log-mel frame
computed once) and with one window per input row, interleaved; reports times, the
largest score difference and whether the events match.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Final

import numpy as np

from bench.breakdown import stream_windows
from bench.replay_cli import START_TIME
from monitor.audio.sources import FileSource
from monitor.config import cliargs
from monitor.output.local import EventRecorder
from monitor.scoring.context import StreamContext
from monitor.scoring.detector import DetectorSettings, Framing
from monitor.scoring.modelfile import load_model
from monitor.scoring.pipeline import Pipeline
from monitor.scoring.scorer import DEFAULT_BATCH_WINDOWS, Scorer

WARMUP_CALLS: Final = 20


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


class OneWindowPerRowScorer(Scorer):
    """The monitor's scorer with runs switched off: every window its own input row,
    so the front end computes each frame ``window / hop`` times (the comparison baseline).
    A context model still carries its state, one window per call (as live scores)."""

    def score_consecutive(self, windows: np.ndarray, hop_samples: int) -> np.ndarray:
        if self.stateful:
            return np.concatenate([super(OneWindowPerRowScorer, self).score_consecutive(row[None], hop_samples)
                                   for row in windows]) if len(windows) else self.score(windows)
        return self.score(windows)


def task_runs(params: dict[str, Any]) -> dict[str, Any]:
    """Replay through the real pipeline with runs (each frame once) and with one window
    per row, ``repeats`` interleaved rounds; times, max score difference, events."""
    model = load_model(params["model"], threads=1)
    spec = model.info.spec
    framing = Framing(spec.sample_rate, spec.window_samples, int(params["hop_samples"]))
    threshold = float(params["threshold"])
    off = params.get("threshold_off")
    settings = DetectorSettings(threshold_on=threshold,
                                threshold_off=cliargs.OFF_RATIO * threshold if off is None else float(off))
    scorers = {"runs": Scorer(model), "rows": OneWindowPerRowScorer(model)}
    seconds: dict[str, list[float]] = {name: [] for name in scorers}
    results: dict[str, tuple[np.ndarray, list[tuple[int, int]]]] = {}
    for _ in range(int(params["repeats"])):
        for name, scorer in scorers.items():
            began = time.perf_counter()
            results[name] = _replay(scorer, model, params["wav"], framing, settings)
            seconds[name].append(time.perf_counter() - began)
    (run_scores, run_events), (row_scores, row_events) = results["runs"], results["rows"]
    return {"seconds": seconds, "max_score_diff": float(np.abs(run_scores - row_scores).max()),
            "events": len(run_events), "events_equal": run_events == row_events, "windows": len(run_scores)}


def _block_s(framing: Framing) -> float:
    """Fast replay's block length (``monitor.commands.replay``: about one batch of windows per block)."""
    return max(1.0, DEFAULT_BATCH_WINDOWS * framing.hop_samples / framing.sample_rate)


def _replay(scorer: Scorer, model: Any, wav: str, framing: Framing,
            settings: DetectorSettings) -> tuple[np.ndarray, list[tuple[int, int]]]:
    source = FileSource(Path(wav), framing.sample_rate, _block_s(framing))
    context = StreamContext.for_model(model, "bench", source.name, cliargs.parse_start_time(START_TIME))
    recorder, scores = EventRecorder(), []
    pipeline = Pipeline(scorer, context, settings, framing.hop_samples, sinks=[recorder],
                        score_listeners=[lambda _starts, s: scores.append(s[:, 0].copy())],
                        batch_windows=DEFAULT_BATCH_WINDOWS)
    pipeline.run(source)
    return np.concatenate(scores), [(e.start_sample, e.end_sample) for e in recorder.events]
