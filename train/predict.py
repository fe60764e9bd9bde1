"""Score whole files with a trained run: the tutorial's prediction step, over sliding windows.

Each file is read at the model rate and cut into windows every quarter window
(the last, partial window right-padded with zeros); the file's result is the
maximum and the mean window score per output column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch

from train.audio import load_waveform
from train.models import Checkpoint, ScoringModel

HOP_FRACTION: Final = 0.25
"""Hop between scored windows, as a fraction of the window."""
BATCH_WINDOWS: Final = 64


@dataclass(frozen=True)
class FileScore:
    """Scores of one file."""

    path: Path
    duration_s: float
    windows: int
    max: dict[str, float]
    """Highest window score per label."""
    mean: dict[str, float]
    """Mean window score per label."""
    event_max: float
    """Highest window score over the event labels."""
    threshold: float

    @property
    def detected(self) -> bool:
        """Some window reaches the checkpoint's threshold on an event label."""
        return self.event_max >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (one line per file on stdout)."""
        return {"file": str(self.path), "duration_s": round(self.duration_s, 3), "windows": self.windows,
                "max": self.max, "mean": self.mean, "event_max": self.event_max,
                "threshold": self.threshold, "detected": self.detected}


def sliding_windows(wave: np.ndarray, window_samples: int, hop_samples: int) -> np.ndarray:
    """float32 ``[n, window_samples]``: starts 0, hop, 2*hop, ... until the end is covered.

    The last window is right-padded with zeros; a clip shorter than a window gives one window.
    """
    n = 1 if len(wave) <= window_samples else math.ceil((len(wave) - window_samples) / hop_samples) + 1
    padded = np.zeros((n - 1) * hop_samples + window_samples, np.float32)
    padded[: len(wave)] = wave
    return np.lib.stride_tricks.sliding_window_view(padded, window_samples)[::hop_samples][:n].copy()


class Predictor:
    """A checkpoint ready to score files on ``device``."""

    def __init__(self, checkpoint: Checkpoint, device: torch.device) -> None:
        self.checkpoint = checkpoint
        self.device = device
        self.model = ScoringModel(checkpoint.build()).to(device).eval()
        spec = checkpoint.config.spec
        self.sample_rate = spec.sample_rate
        self.window_samples = spec.window_samples
        self.hop_samples = max(1, int(spec.window_samples * HOP_FRACTION))
        self.event_columns = [checkpoint.labels.index(name) for name in checkpoint.event_labels]

    @torch.no_grad()
    def window_scores(self, wave: np.ndarray) -> np.ndarray:
        """float32 ``[n_windows, n_labels]`` probabilities of a float32 mono wave at the model rate."""
        windows = torch.from_numpy(sliding_windows(wave, self.window_samples, self.hop_samples))
        out = [self.model(windows[i : i + BATCH_WINDOWS].to(self.device)).cpu()
               for i in range(0, len(windows), BATCH_WINDOWS)]
        return torch.cat(out).numpy()

    def score_file(self, path: Path) -> FileScore:
        """Read ``path`` (raises :class:`~train.errors.BadClipError`) and score it."""
        wave = load_waveform(path, self.sample_rate)
        scores = self.window_scores(wave)
        labels = self.checkpoint.labels
        return FileScore(
            path=path,
            duration_s=len(wave) / self.sample_rate,
            windows=len(scores),
            max={name: round(float(scores[:, k].max()), 6) for k, name in enumerate(labels)},
            mean={name: round(float(scores[:, k].mean()), 6) for k, name in enumerate(labels)},
            event_max=round(float(scores[:, self.event_columns].max()), 6),
            threshold=self.checkpoint.threshold,
        )
