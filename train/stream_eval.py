"""Judge a model on long streams: event recall, false alarms per hour, onset latency.

Scores every hop-spaced window of a :class:`~train.streams.Stream` once with
onnxruntime (the shipped ONNX file, exactly what the monitor runs), then
replays the cached scores through the monitor's own detector for each
candidate operating point. torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

import numpy as np

from monitor.scoring.detector import Bout, CoughDetector, DetectorSettings, Framing, Onset
from monitor.scoring.modelfile import LoadedModel
from monitor.scoring.scorer import Scorer
from train.streams import Stream

MATCH_TOLERANCE_S = 0.5
"""A detection matches a cough when they overlap, with this much slack either side."""


@dataclass(frozen=True)
class WindowScores:
    """Scores of every window of one stream."""

    starts: np.ndarray
    """int64 ``[n]`` window start samples."""
    scores: np.ndarray
    """float32 ``[n]`` score of the first event label."""
    window_samples: int
    sample_rate: int

    @property
    def hop_samples(self) -> int:
        """Samples between window starts (the window length for a single window)."""
        return int(self.starts[1] - self.starts[0]) if len(self.starts) > 1 else self.window_samples


def score_stream(model: LoadedModel, stream: Stream, hop_samples: int, batch: int = 256) -> WindowScores:
    """Score windows of ``stream`` every ``hop_samples`` (last partial window zero-padded)."""
    window = model.info.spec.window_samples
    column = list(model.info.labels).index(model.info.event_labels[0])
    audio = stream.audio
    if len(audio) < window:
        audio = np.pad(audio, (0, window - len(audio)))
    starts = np.arange(0, len(audio) - window + 1, hop_samples, dtype=np.int64)
    frames = np.lib.stride_tricks.sliding_window_view(audio, window)[::hop_samples]
    scorer = Scorer(model)
    out = np.empty(len(starts), np.float32)
    for i in range(0, len(starts), batch):
        out[i : i + batch] = scorer.score_consecutive(frames[i : i + batch], hop_samples)[:, column]
    return WindowScores(starts, out, window, stream.sample_rate)


@dataclass(frozen=True)
class Detection:
    """One event found in a stream, with when the detector confirmed it."""

    start_sample: int
    end_sample: int
    confirmed_sample: int
    """End of the window whose score confirmed the onset: the earliest moment the
    live monitor could have published ``state`` ON."""
    peak_score: float


def run_detector(scores: WindowScores, settings: DetectorSettings) -> list[Detection]:
    """Replay cached window scores through the monitor's :class:`CoughDetector`."""
    framing = Framing(scores.sample_rate, scores.window_samples, scores.hop_samples)
    detector = CoughDetector("cough", settings, framing)
    confirmed: list[int] = []
    found: list[Detection] = []

    def take(results: list[Onset | Bout], window_end: int) -> None:
        for result in results:
            if isinstance(result, Onset):
                confirmed.append(window_end)
            else:
                found.append(Detection(result.start_sample, result.end_sample, confirmed.pop(0), result.peak_score))

    for start, score in zip(scores.starts.tolist(), scores.scores.tolist(), strict=True):
        take(detector.update(score, start), start + scores.window_samples)
    take(list(detector.flush()), int(scores.starts[-1]) + scores.window_samples if len(scores.starts) else 0)
    return found


def with_threshold(settings: DetectorSettings, threshold_on: float, off_ratio: float = 0.7) -> DetectorSettings:
    """``settings`` with a new on-threshold (off = ``off_ratio`` x on)."""
    return replace(settings, threshold_on=threshold_on, threshold_off=threshold_on * off_ratio)


@dataclass(frozen=True)
class StreamResult:
    """Event-level figures of one operating point."""

    threshold: float
    events: int
    recall: float | None
    """Matched coughs / inserted coughs (None on a negative stream)."""
    false_alarms: int
    false_alarms_per_hour: float
    median_latency_s: float | None
    """Median of (onset confirmation time - true cough start), stream clock."""
    hours: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _match(detections: Sequence[Detection], stream: Stream) -> tuple[np.ndarray, list[Detection], list[float]]:
    """(bool ``[n_truth]`` cough found, the detections that match no cough, onset latencies s)."""
    rate = stream.sample_rate
    slack = int(MATCH_TOLERANCE_S * rate)
    matched = np.zeros(len(stream.truth), bool)
    false: list[Detection] = []
    latencies: list[float] = []
    for det in detections:
        hits = [
            i for i, (s, e) in enumerate(stream.truth)
            if det.start_sample <= e + slack and det.end_sample >= s - slack
        ]
        if not hits:
            false.append(det)
        for i in hits:
            if not matched[i]:
                latencies.append((det.confirmed_sample - stream.truth[i][0]) / rate)
            matched[i] = True
    return matched, false, latencies


def evaluate(
    scores: WindowScores, stream: Stream, settings: DetectorSettings
) -> StreamResult:
    """Run the detector over cached scores and match its events to the truth."""
    detections = run_detector(scores, settings)
    matched, false, latencies = _match(detections, stream)
    hours = stream.duration_s / 3600
    return StreamResult(
        threshold=settings.threshold_on,
        events=len(detections),
        recall=float(matched.mean()) if stream.truth else None,
        false_alarms=len(false),
        false_alarms_per_hour=len(false) / hours,
        median_latency_s=float(np.median(latencies)) if latencies else None,
        hours=hours,
    )


def recall_by_source(scores: WindowScores, stream: Stream, settings: DetectorSettings) -> dict[str, float]:
    """Event recall per inserted-cough source (dataset/category)."""
    matched, _, _ = _match(run_detector(scores, settings), stream)
    found: dict[str, list[bool]] = {}
    for hit, source in zip(matched.tolist(), stream.truth_source, strict=True):
        found.setdefault(source, []).append(hit)
    return {k: float(np.mean(v)) for k, v in sorted(found.items())}


NOISE_FLOOR: Final = "(noise floor)"
"""What a false alarm that overlaps no played clip is traced to (a gap between clips)."""


def false_alarm_sources(scores: WindowScores, stream: Stream, settings: DetectorSettings) -> list[str]:
    """The sound behind each false alarm, one entry per false alarm in order: the path of the
    played clip (``stream.played``) that fills most of the event's highest-scoring window, or
    :data:`NOISE_FLOOR` when that window holds no clip."""
    _, false, _ = _match(run_detector(scores, settings), stream)
    window, hop = scores.window_samples, scores.hop_samples
    clip_starts = np.array([start for start, _, _ in stream.played], dtype=np.int64)
    sources = []
    for det in false:
        # the bout's windows start from (start - (window - hop)) to (end - hop): see monitor.scoring.detector
        first, last = np.searchsorted(scores.starts, [det.start_sample - (window - hop), det.end_sample - hop + 1])
        peak = int(scores.starts[first + int(np.argmax(scores.scores[first:last]))])
        best, best_overlap = NOISE_FLOOR, 0
        i = int(np.searchsorted(clip_starts, peak + window, side="left")) - 1
        while i >= 0 and stream.played[i][1] > peak:  # spans ascend and never overlap
            start, end, path = stream.played[i]
            overlap = min(end, peak + window) - max(start, peak)
            if overlap > best_overlap:
                best, best_overlap = path, overlap
            i -= 1
        sources.append(best)
    return sources


def choose_operating_point(
    negative: tuple[WindowScores, Stream],
    positive: tuple[WindowScores, Stream],
    base: DetectorSettings,
    thresholds: Sequence[float],
    max_false_alarms_per_hour: float = 1.0,
) -> tuple[DetectorSettings, list[dict[str, Any]]]:
    """The lowest threshold whose false alarms per hour (negative + positive streams
    together) stay <= ``max_false_alarms_per_hour``; returns it and the whole sweep."""
    sweep: list[dict[str, Any]] = []
    chosen = None
    for threshold in sorted(thresholds):
        settings = with_threshold(base, threshold)
        neg = evaluate(*negative, settings)
        pos = evaluate(*positive, settings)
        total_fa = (neg.false_alarms + pos.false_alarms) / (neg.hours + pos.hours)
        sweep.append({"threshold": threshold, "negative": neg.to_dict(), "positive": pos.to_dict(),
                      "false_alarms_per_hour": total_fa})
        if chosen is None and total_fa <= max_false_alarms_per_hour:
            chosen = settings
    if chosen is None:
        chosen = with_threshold(base, max(thresholds))
    return chosen, sweep
