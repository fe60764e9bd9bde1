"""Window scoring with onnxruntime: float32 windows in, per-label scores out.

The model holds the whole front end (log-mel) in its graph, so scoring is a
single ``session.run``. Rows are independent, so scoring windows one at a time
or in batches gives the same numbers; batches just amortise the call overhead
when replaying faster than real time. Models that declare ``run_hop_samples``
also take consecutive windows as one run of audio and compute each log-mel frame
once (:meth:`Scorer.score_consecutive`), again with the same numbers.

A context model (``state_size`` > 0) also remembers the stream so far: the scorer
carries its state from one :meth:`Scorer.score_consecutive` call to the next, so
consecutive windows must come in order, at the model's hop, and :meth:`Scorer.reset`
starts a new stream. Window by window (live) or in runs of any length (replay), the
scores are the same.
"""

from __future__ import annotations

import logging
from typing import Final

import numpy as np

from monitor.errors import ModelFileError
from monitor.scoring.modelfile import (
    INPUT_NAME,
    OUTPUT_NAME,
    STATE_INPUT_NAME,
    STATE_OUTPUT_NAME,
    LoadedModel,
)

log = logging.getLogger(__name__)

DEFAULT_BATCH_WINDOWS: Final = 32
"""Windows per onnxruntime call in fast replay."""


def join_run(windows: np.ndarray, hop_samples: int) -> np.ndarray:
    """Consecutive windows ``[n, window]`` starting ``hop_samples`` apart -> the audio they
    were cut from, float32 ``[window + (n - 1) * hop_samples]``."""
    tails = windows[1:, windows.shape[1] - hop_samples :].reshape(-1)
    return np.concatenate([windows[0], tails]).astype(np.float32, copy=False)


class Scorer:
    """Scores windows with a loaded coughwatch model."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.window_samples = model.info.spec.window_samples
        self.labels = model.info.labels
        self._session = model.session
        self._state_size = model.info.state_size
        self._state = np.zeros((1, self._state_size), np.float32)

    @property
    def stateful(self) -> bool:
        """True for a context model: scores depend on the windows before."""
        return self._state_size > 0

    def reset(self) -> None:
        """Start a new stream: a context model forgets the windows before."""
        self._state = np.zeros((1, self._state_size), np.float32)

    @property
    def n_labels(self) -> int:
        """Output columns (= ``len(labels)``)."""
        return len(self.labels)

    def score(self, windows: np.ndarray) -> np.ndarray:
        """Score ``windows``: float32 ``[n, window_samples]`` at the model rate.

        Returns float32 ``[n, n_labels]``, probabilities in [0, 1] (column order
        = ``labels``). ``n = 0`` returns an empty ``[0, n_labels]`` array.
        """
        self._check_shape(windows)
        if len(windows) == 0:
            return np.zeros((0, self.n_labels), dtype=np.float32)
        return self._run(np.ascontiguousarray(windows, dtype=np.float32), len(windows))

    def score_consecutive(self, windows: np.ndarray, hop_samples: int) -> np.ndarray:
        """Like :meth:`score`, for windows that start ``hop_samples`` apart, in order
        (window ``i + 1`` is window ``i`` moved on by the hop; the caller guarantees it).

        When the model scores runs at this hop they go in as ONE run of
        ``window_samples + (n - 1) * hop_samples`` samples, so the graph computes
        each log-mel frame once instead of ``window / hop`` times. A context model takes
        them as the continuation of the stream so far (its hop only; ``ValueError`` otherwise).
        """
        if self.stateful:
            if hop_samples != self.model.info.run_hop_samples:
                raise ValueError(f"a context model scores windows {self.model.info.run_hop_samples} "
                                 f"samples apart, not {hop_samples}")
            self._check_shape(windows)
            if len(windows) == 0:
                return np.zeros((0, self.n_labels), dtype=np.float32)
            return self._run(join_run(windows, hop_samples)[None, :], len(windows), carry=True)
        if hop_samples != self.model.info.run_hop_samples or len(windows) < 2:
            return self.score(windows)
        self._check_shape(windows)
        return self._run(join_run(windows, hop_samples)[None, :], len(windows))

    def _check_shape(self, windows: np.ndarray) -> None:
        if windows.ndim != 2 or windows.shape[1] != self.window_samples:
            raise ValueError(
                f"windows must be [n, {self.window_samples}], got {list(windows.shape)}"
            )

    def _run(self, feed_rows: np.ndarray, n_windows: int, carry: bool = False) -> np.ndarray:
        """One ``session.run``: float32 ``[rows, samples]`` -> ``[n_windows, n_labels]``.

        A context model gets zeros as state for every row, or (``carry``, one row) the
        stream's state, which the run then moves on."""
        feed = {INPUT_NAME: feed_rows}
        if not self.stateful:
            (scores,) = self._session.run([OUTPUT_NAME], feed)
        elif carry:
            feed[STATE_INPUT_NAME] = self._state
            scores, self._state = self._session.run([OUTPUT_NAME, STATE_OUTPUT_NAME], feed)
        else:
            feed[STATE_INPUT_NAME] = np.zeros((len(feed_rows), self._state_size), np.float32)
            (scores,) = self._session.run([OUTPUT_NAME], feed)
        scores = np.asarray(scores, dtype=np.float32).reshape(n_windows, -1)
        if scores.shape[1] != self.n_labels:
            raise ModelFileError(
                f"{self.model.path}: model returned {scores.shape[1]} columns, "
                f"metadata names {self.n_labels} labels"
            )
        return scores
