"""Worker task ``breakdown``: where replay time goes, on the monitor's own pipeline.

One replay is run through :class:`monitor.scoring.pipeline.Pipeline` exactly as
``cough-monitor replay`` builds it, with timers wrapped around the pieces:
decode (soundfile), mix-down + resample (soxr), scoring (onnxruntime) and the
event detector; the rest (ring buffer framing, stats, dispatch) is the
remainder. Scoring is then split into the log-mel front end (framing, FFT, mel) and
the CNN with onnxruntime's profiler on the same batches, and the multiply-adds of
each part per window are counted (:mod:`bench.ceiling`).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np

from bench.ceiling import graph_macs
from bench.replay_cli import START_TIME, replay_args
from monitor.audio.sources import FileSource
from monitor.cli import build_parser
from monitor.config import cliargs
from monitor.scoring.context import StreamContext
from monitor.scoring.detector import Bout, CoughDetector, Onset
from monitor.scoring.modelfile import load_model
from monitor.scoring.pipeline import Pipeline
from monitor.scoring.scorer import DEFAULT_BATCH_WINDOWS, Scorer, join_run

PROFILE_BATCHES: Final = 12
LOG_MEL: Final = "log_mel"


class TimedSource(FileSource):
    """A :class:`FileSource` that times decoding and (mix-down + resampling) separately."""

    def __init__(self, path: Path, target_rate: int, block_s: float, timers: Counter[str]) -> None:
        super().__init__(path, target_rate, block_s)
        self.timers = timers

    def _native_blocks(self) -> Iterator[np.ndarray]:
        yield from _timed(super()._native_blocks(), self.timers, "decode")

    def blocks(self) -> Iterator[tuple[int, np.ndarray]]:
        yield from _timed(super().blocks(), self.timers, "source")


def _timed(gen: Iterator[Any], timers: Counter[str], key: str) -> Iterator[Any]:
    while True:
        began = time.perf_counter()
        try:
            item = next(gen)
        except StopIteration:
            timers[key] += time.perf_counter() - began
            return
        timers[key] += time.perf_counter() - began
        yield item


class TimedScorer(Scorer):
    """A :class:`Scorer` that adds its time to ``timers['scoring']``."""

    def __init__(self, model: Any, timers: Counter[str]) -> None:
        super().__init__(model)
        self.timers = timers

    def _run(self, feed_rows: np.ndarray, n_windows: int, carry: bool = False) -> np.ndarray:
        began = time.perf_counter()  # every session.run, rows or runs, goes through here
        try:
            return super()._run(feed_rows, n_windows, carry)
        finally:
            self.timers["scoring"] += time.perf_counter() - began


class TimedDetector:
    """Wraps a :class:`CoughDetector`; adds its time to ``timers['detector']``."""

    def __init__(self, detector: CoughDetector, timers: Counter[str]) -> None:
        self.detector, self.timers = detector, timers

    def update(self, score: float, window_start: int) -> list[Onset | Bout]:
        began = time.perf_counter()
        try:
            return self.detector.update(score, window_start)
        finally:
            self.timers["detector"] += time.perf_counter() - began

    def flush(self) -> list[Bout]:
        return self.detector.flush()


def task_breakdown(params: dict[str, Any]) -> dict[str, Any]:
    """Time each component of one fast replay; return seconds per component and the scores."""
    args = build_parser().parse_args(replay_args(params, Path("/dev/null"), realtime=False))
    model = load_model(args.model, threads=1)
    settings, framing = cliargs.detection_settings(args, model.info)
    timers = Counter()
    block_s = max(1.0, DEFAULT_BATCH_WINDOWS * framing.hop_samples / framing.sample_rate)
    source = TimedSource(Path(params["wav"]), framing.sample_rate, block_s, timers)
    context = StreamContext.for_model(model, "bench", source.name, cliargs.parse_start_time(START_TIME))
    scores: list[np.ndarray] = []
    pipeline = Pipeline(TimedScorer(model, timers), context, settings, framing.hop_samples,
                        score_listeners=[lambda _starts, s: scores.append(s)],
                        batch_windows=DEFAULT_BATCH_WINDOWS)
    pipeline.detectors = [(col, TimedDetector(det, timers)) for col, det in pipeline.detectors]
    began = time.perf_counter()
    summary = pipeline.run(source)
    total = time.perf_counter() - began
    all_scores = np.concatenate(scores)[:, 0]
    seconds = {
        "total": total,
        "decode": timers["decode"],
        "mixdown_resample": timers["source"] - timers["decode"],
        "scoring": timers["scoring"],
        "detector": timers["detector"],
    }
    seconds["framing_and_rest"] = total - sum(v for k, v in seconds.items() if k != "total")
    return {"seconds": seconds, "audio_s": summary.duration_s, "windows": summary.windows,
            "hop_samples": framing.hop_samples, "sample_rate": framing.sample_rate,
            "run_hop_samples": model.info.run_hop_samples,
            "threshold_on": settings.threshold_on, "threshold_off": settings.threshold_off,
            "score_quantiles": _quantiles(all_scores),
            "profile": profile_split(Path(params["model"]), params["wav"], framing.sample_rate,
                                     framing.window_samples, framing.hop_samples,
                                     Path(params["work_dir"]), runs=model.info.run_hop_samples == framing.hop_samples)}


def _quantiles(scores: np.ndarray) -> dict[str, float]:
    qs = (0, 1, 5, 25, 50, 75, 90, 95, 97, 99, 99.5, 100)
    return {str(q): float(np.percentile(scores, q)) for q in qs}


def profile_split(model_path: Path, wav: str, rate: int, window: int, hop: int,
                  work_dir: Path, runs: bool = False) -> dict[str, Any]:
    """Share of onnxruntime node time in the log-mel front end vs the rest, by op type.

    Batches go in as replay feeds them: ``runs`` = one run of audio per batch, else one row per window.
    """
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    options.enable_profiling = True
    options.profile_file_prefix = str(work_dir / f"profile-{model_path.stem}")
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    windows = stream_windows(wav, rate, window, hop, DEFAULT_BATCH_WINDOWS * PROFILE_BATCHES)
    feeds = [windows[start : start + DEFAULT_BATCH_WINDOWS]
             for start in range(0, len(windows), DEFAULT_BATCH_WINDOWS)]
    if runs:
        feeds = [join_run(batch, hop)[None, :] for batch in feeds]
    for feed in feeds:
        session.run(None, {"waveform": feed})
    profile = Path(session.end_profiling())
    events = json.loads(profile.read_text())
    profile.unlink(missing_ok=True)
    frontend = frontend_nodes(onnx.load(str(model_path)))
    by_part, by_op = Counter(), Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            node = event["name"][: -len("_kernel_time")]
            by_part["frontend" if node in frontend else "network"] += event["dur"]
            by_op[event["args"].get("op_name", "?")] += event["dur"]
    total = sum(by_part.values()) or 1
    macs = graph_macs(model_path, feeds[0], frontend, work_dir)
    per_window = {part: count / min(DEFAULT_BATCH_WINDOWS, len(windows)) for part, count in macs.items()}
    return {"frontend_share": by_part["frontend"] / total, "network_share": by_part["network"] / total,
            "op_share": {op: us / total for op, us in by_op.most_common(8)},
            "has_log_mel": bool(frontend), "macs_per_window": per_window}


def frontend_nodes(proto: Any) -> set[str]:
    """Names of the nodes the graph's ``log_mel`` value depends on (empty when it has none)."""
    producer = {out: node for node in proto.graph.node for out in node.output}
    if LOG_MEL not in producer:
        return set()
    names, todo = set(), [LOG_MEL]
    while todo:
        node = producer.get(todo.pop())
        if node is None or node.name in names:
            continue
        names.add(node.name)
        todo.extend(node.input)
    return names


def stream_windows(wav: str, rate: int, window: int, hop: int, n: int) -> np.ndarray:
    """The first ``n`` windows (float32 ``[n, window]``) of the replay recording at ``rate``."""
    source = FileSource(Path(wav), rate)
    need = (n - 1) * hop + window
    parts, got = [], 0
    for _, block in source.blocks():
        parts.append(block)
        got += len(block)
        if got >= need:
            break
    audio = np.concatenate(parts)
    count = min(n, (len(audio) - window) // hop + 1)
    return np.stack([audio[i * hop : i * hop + window] for i in range(count)])
