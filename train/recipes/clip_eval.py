"""Clip-level figures of an exported model, computed with onnxruntime (what ships).

A clip's score is the highest score over its sliding windows (hop = a quarter
window, a short clip right-padded), as ``cough-monitor replay --summary`` reports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from monitor.scoring.modelfile import LoadedModel
from monitor.scoring.scorer import Scorer
from train.cache import WaveformCache
from train.data import Clip
from train.metrics import average_precision, roc_auc
from train.streams import Stream

COUGH = "cough"


class Loader:
    """``path -> float32 [n]`` mono at ``sample_rate`` through the training cache."""

    def __init__(self, sample_rate: int, cache_dir: Path | None) -> None:
        self.cache = WaveformCache(sample_rate, cache_dir)

    def __call__(self, path: str) -> np.ndarray:
        return self.cache.get(Path(path)).astype(np.float32)


def at_model_rate(stream: Stream, model_rate: int) -> Stream:
    """``stream`` resampled to ``model_rate`` (truth positions scaled), as the monitor would."""
    if model_rate == stream.sample_rate:
        return stream
    ratio = model_rate / stream.sample_rate
    audio = soxr.resample(stream.audio, stream.sample_rate, model_rate).astype(np.float32)
    truth = [(round(s * ratio), round(e * ratio)) for s, e in stream.truth]
    return replace(stream, audio=audio, sample_rate=model_rate, truth=truth)


def clip_scores(model: LoadedModel, clips: Sequence[Clip], load: Loader, rate: int) -> list[tuple[Clip, float]]:
    """(clip, max window score) for every clip, scored at the model's rate."""
    spec = model.info.spec
    column = list(model.info.labels).index(model.info.event_labels[0])
    hop = model.info.default_hop_samples
    scorer = Scorer(model)
    out = []
    for clip in clips:
        wave = load(str(clip.path))
        if spec.sample_rate != rate:
            wave = soxr.resample(wave, rate, spec.sample_rate).astype(np.float32)
        if len(wave) < spec.window_samples:
            wave = np.pad(wave, (0, spec.window_samples - len(wave)))
        frames = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(wave, spec.window_samples)[::hop])
        if scorer.stateful:  # a context model hears each clip as a stream of its own
            scorer.reset()
            scores = scorer.score_consecutive(frames, hop)[:, column]
        else:
            scores = model.session.run(None, {"waveform": frames})[0][:, column]
        out.append((clip, float(scores.max())))
    return out


def clip_metrics(scored: list[tuple[Clip, float]], threshold: float) -> dict[str, Any]:
    """ROC AUC, AP, and per-source recall (coughs) / false-positive rate (non-coughs)."""
    y = np.array([c.label == COUGH for c, _ in scored])
    s = np.array([score for _, score in scored])
    by_source: dict[str, list[bool]] = defaultdict(list)
    for clip, score in scored:
        source = f"{clip.extra.get('dataset', '?')}/{clip.extra.get('category', '?')}"
        by_source[f"{'cough' if clip.label == COUGH else 'non_cough'}:{source}"].append(score >= threshold)
    return {
        "roc_auc": roc_auc(y, s),
        "average_precision": average_precision(y, s),
        "recall": float(np.mean(s[y] >= threshold)),
        "false_positive_rate": float(np.mean(s[~y] >= threshold)),
        "n_cough": int(y.sum()),
        "n_non_cough": int((~y).sum()),
        "by_source": {k: {"n": len(v), "rate": float(np.mean(v))} for k, v in sorted(by_source.items())},
    }
