"""``--plot F.png``: the window-score timeline of each replayed stream, events shaded.

matplotlib is not a base dependency of the monitor; it is imported only here,
when a plot is asked for, and its absence is one clear error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from monitor.errors import CoughwatchError
from monitor.output.events import CoughEvent

ROW_HEIGHT_IN: Final = 2.6
FIG_WIDTH_IN: Final = 11.0


@dataclass(frozen=True)
class PlotStream:
    """What one subplot shows."""

    source: str
    sample_rate: int
    window_samples: int
    starts: np.ndarray
    """Window starts, int64 ``[n]``, samples."""
    scores: np.ndarray
    """float32 ``[n, len(labels)]``."""
    labels: tuple[str, ...]
    events: tuple[CoughEvent, ...]
    threshold_on: float
    threshold_off: float


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CoughwatchError("--plot needs matplotlib: install matplotlib") from None
    return plt


def require_matplotlib() -> None:
    """Fail early (before a long replay) if ``--plot`` cannot work."""
    _pyplot()


def plot_timelines(path: Path, streams: Sequence[PlotStream]) -> None:
    """Draw one score-vs-time row per stream into the PNG ``path``."""
    plt = _pyplot()
    rows = max(1, len(streams))
    fig, axes = plt.subplots(rows, 1, figsize=(FIG_WIDTH_IN, ROW_HEIGHT_IN * rows), squeeze=False)
    for ax, stream in zip(axes[:, 0], streams, strict=False):
        _draw(ax, stream)
    axes[-1, 0].set_xlabel("time from stream start (s), window centre")
    fig.tight_layout()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise CoughwatchError(f"{path}: cannot write plot ({exc.strerror or exc})") from None
    finally:
        plt.close(fig)


def _draw(ax: Any, stream: PlotStream) -> None:
    centres_s = (stream.starts + stream.window_samples / 2) / stream.sample_rate
    for column, label in enumerate(stream.labels):
        ax.plot(centres_s, stream.scores[:, column], linewidth=1.0, label=label)
    ax.axhline(stream.threshold_on, color="red", linestyle="--", linewidth=0.8, label="on")
    ax.axhline(stream.threshold_off, color="orange", linestyle=":", linewidth=0.8, label="off")
    for index, event in enumerate(stream.events):
        ax.axvspan(event.start_s, event.end_s, color="red", alpha=0.2,
                   label="event" if index == 0 else None)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("score")
    ax.set_title(f"{stream.source}: {len(stream.events)} event(s)", fontsize=9, loc="left")
    # Above the axes, level with the title: inside, it would hide scores and events.
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False,
              ncol=len(stream.labels) + 3, borderaxespad=0.2)
