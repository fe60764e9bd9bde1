"""The monitor's one code path: blocks -> ring buffer -> scorer -> detectors -> sinks.

Replay drives it with :meth:`Pipeline.run` over an :class:`~monitor.audio.sources.AudioSource`;
the live daemon pushes microphone blocks with :meth:`Pipeline.process_block` and
calls :meth:`Pipeline.finish` at shutdown.

Windows are scored as soon as ``batch_windows`` of them are pending (and at
:meth:`Pipeline.finish`). Live use keeps the default of 1: every window is
scored the moment its last sample arrives. Fast replay batches; since batch
boundaries fall on fixed window indices, block size and pacing never change a
single bit of the scores. Different batch sizes may change scores by float
rounding inside onnxruntime's batched kernels (~1e-7), never event timing
in practice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.audio.ringbuffer import RingBuffer
from monitor.errors import ConfigError
from monitor.output.sinks import EventSink
from monitor.scoring.context import StreamContext
from monitor.scoring.detector import Bout, CoughDetector, DetectorSettings, Framing, Onset
from monitor.scoring.scorer import Scorer
from monitor.scoring.stats import PipelineStats

if TYPE_CHECKING:  # soundfile and soxr stay out of the live daemon
    from monitor.audio.sources import AudioSource

log = logging.getLogger(__name__)

ScoreListener = Callable[[np.ndarray, np.ndarray], None]
"""Called with window starts (int64 ``[n]``, samples) and scores (float32 ``[n, n_labels]``)."""
Pacer = Callable[[int], None]
"""Called with the end sample of each block before it is processed (``--realtime``)."""


@dataclass(frozen=True)
class StreamSummary:
    """What one stream amounted to (the ``--summary`` line, without the file name)."""

    duration_s: float
    windows: int
    score: float
    """Max over windows of the window score (max over event labels)."""
    mean_score: float
    events: int


class Pipeline:
    """Scores one stream and hands onsets, events and stats to ``sinks``."""

    def __init__(
        self,
        scorer: Scorer,
        context: StreamContext,
        settings: DetectorSettings,
        hop_samples: int,
        sinks: Sequence[EventSink] = (),
        score_listeners: Sequence[ScoreListener] = (),
        batch_windows: int = 1,
        stats_interval_s: float | None = None,
    ) -> None:
        info = scorer.model.info
        if scorer.stateful and hop_samples != info.run_hop_samples:
            raise ConfigError(f"{info.name} is a context model: it scores every "
                              f"{1000 * info.run_hop_samples / info.spec.sample_rate:g} ms only "
                              f"(asked for {1000 * hop_samples / info.spec.sample_rate:g} ms)")
        scorer.reset()  # a new stream
        self.framing = Framing(info.spec.sample_rate, info.spec.window_samples, hop_samples)
        self.scorer, self.context, self.sinks = scorer, context, list(sinks)
        self.score_listeners = list(score_listeners)
        self.detectors = [
            (info.labels.index(label), CoughDetector(label, settings, self.framing))
            for label in info.event_labels
        ]
        self._event_columns = [column for column, _ in self.detectors]
        self._ring = RingBuffer(self.framing.window_samples + max(hop_samples, 4096))
        self._batch = np.empty((max(1, batch_windows), self.framing.window_samples), np.float32)
        self._batch_starts = np.empty(len(self._batch), dtype=np.int64)
        self._pending = 0
        self.stats = PipelineStats(self.framing.sample_rate)
        self._stats_every = (
            self.framing.samples(stats_interval_s) if stats_interval_s else None
        )
        self._next_stats = self._stats_every
        self._score_max, self._score_sum = 0.0, 0.0
        self._event_count = 0
        self._finished = False

    def process_block(self, block: np.ndarray, start_sample: int) -> None:
        """Take float32 mono ``block`` at the model rate whose first sample is ``start_sample``.

        Blocks must come in order; a gap (dropped audio) is filled with silence
        and counted as an overflow so the sample clock stays true.
        """
        began = time.perf_counter()
        expected = self._ring.total_written
        if start_sample < expected:
            raise ValueError(f"block at sample {start_sample} overlaps audio up to {expected}")
        if start_sample > expected:
            log.warning("%d samples missing before sample %d", start_sample - expected, start_sample)
            self.stats.overflows += 1
            self._feed(np.zeros(start_sample - expected, dtype=np.float32))
        self._feed(np.asarray(block, dtype=np.float32).reshape(-1))
        self.stats.compute_s += time.perf_counter() - began
        self._maybe_emit_stats()

    def finish(self) -> StreamSummary:
        """End of stream: close open bouts and return the summary (idempotent)."""
        if not self._finished:
            self._finished = True
            began = time.perf_counter()
            self._score_pending()
            self._score_short_stream()
            self.stats.compute_s += time.perf_counter() - began
            for _, detector in self.detectors:
                self._dispatch(detector.flush())
        return self.summary()

    def run(self, source: AudioSource, pacer: Pacer | None = None) -> StreamSummary:
        """Process a whole source; open bouts are closed even if the source fails midway."""
        try:
            for start_sample, block in source.blocks():
                if pacer is not None:
                    pacer(start_sample + len(block))
                self.process_block(block, start_sample)
        finally:
            self.finish()
        return self.summary()

    def summary(self) -> StreamSummary:
        """Figures so far (final after :meth:`finish`)."""
        windows = self.stats.windows_scored
        return StreamSummary(
            duration_s=self.stats.samples_processed / self.framing.sample_rate,
            windows=windows,
            score=self._score_max,
            mean_score=self._score_sum / windows if windows else 0.0,
            events=self._event_count,
        )

    def stats_snapshot(self) -> dict[str, Any]:
        """The ``stats`` payload now (stream clock); starts a new level period."""
        return self.stats.snapshot(self.context.wall_time(self.stats.samples_processed))

    def _feed(self, samples: np.ndarray) -> None:
        self.stats.add_audio(samples)
        for start, view in self._ring.frame(
            samples, self.framing.window_samples, self.framing.hop_samples
        ):
            self._batch[self._pending] = view
            self._batch_starts[self._pending] = start
            self._pending += 1
            if self._pending == len(self._batch):
                self._score_pending()

    def _score_pending(self) -> None:
        if self._pending == 0:
            return
        n, self._pending = self._pending, 0
        scores = self.scorer.score_consecutive(self._batch[:n], self.framing.hop_samples)
        self._handle_scores(self._batch_starts[:n].copy(), scores)

    def _handle_scores(self, starts: np.ndarray, scores: np.ndarray) -> None:
        self.stats.windows_scored += len(starts)
        for listener in self.score_listeners:
            listener(starts, scores)
        event_scores = scores[:, self._event_columns].max(axis=1)
        self._score_max = max(self._score_max, float(event_scores.max()))
        self._score_sum += float(event_scores.sum(dtype=np.float64))
        for column, detector in self.detectors:
            for start, score in zip(starts.tolist(), scores[:, column].tolist(), strict=True):
                self._dispatch(detector.update(score, start))

    def _score_short_stream(self) -> None:
        """A stream shorter than one window is right-padded to one (as in training)."""
        total = self._ring.total_written
        if self.stats.windows_scored or total == 0 or total >= self.framing.window_samples:
            return  # (a longer stream with no window scored failed on the way: keep its error)
        window = np.zeros((1, self.framing.window_samples), dtype=np.float32)
        window[0, :total] = self._ring.read(0, total)
        self._handle_scores(np.zeros(1, dtype=np.int64), self.scorer.score(window))

    def _dispatch(self, results: Iterable[Onset | Bout]) -> None:
        for result in results:
            if isinstance(result, Onset):
                event_id = self.context.event_id(result.label, result.start_sample)
                start_s = self.context.seconds(result.start_sample)
                for sink in self.sinks:
                    sink.bout_started(result.label, event_id, start_s)
            else:
                event = self.context.event(result)
                self._event_count += 1
                self.stats.counter.add(event)
                for sink in self.sinks:
                    sink.bout_ended(event)

    def _maybe_emit_stats(self) -> None:
        if self._next_stats is None or self.stats.samples_processed < self._next_stats:
            return
        while self._next_stats <= self.stats.samples_processed:
            self._next_stats += self._stats_every or 1
        snapshot = self.stats_snapshot()
        for sink in self.sinks:
            sink.stats(snapshot)
