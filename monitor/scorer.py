"""Window scoring with onnxruntime: float32 windows in, per-label scores out.

The model holds the whole front end (log-mel) in its graph, so scoring is a
single ``session.run``. Rows are independent, so scoring windows one at a time
or in batches gives the same numbers; batches just amortise the call overhead
when replaying faster than real time.
"""

from __future__ import annotations

import logging
from typing import Final

import numpy as np

from monitor.errors import ModelFileError
from monitor.modelfile import INPUT_NAME, OUTPUT_NAME, LoadedModel

log = logging.getLogger(__name__)

DEFAULT_BATCH_WINDOWS: Final = 32
"""Windows per onnxruntime call in fast replay."""


class Scorer:
    """Scores windows with a loaded coughwatch model."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.window_samples = model.info.spec.window_samples
        self.labels = model.info.labels
        self._session = model.session

    @property
    def n_labels(self) -> int:
        """Output columns (= ``len(labels)``)."""
        return len(self.labels)

    def score(self, windows: np.ndarray) -> np.ndarray:
        """Score ``windows``: float32 ``[n, window_samples]`` at the model rate.

        Returns float32 ``[n, n_labels]``, probabilities in [0, 1] (column order
        = ``labels``). ``n = 0`` returns an empty ``[0, n_labels]`` array.
        """
        if windows.ndim != 2 or windows.shape[1] != self.window_samples:
            raise ValueError(
                f"windows must be [n, {self.window_samples}], got {list(windows.shape)}"
            )
        if len(windows) == 0:
            return np.zeros((0, self.n_labels), dtype=np.float32)
        feed = {INPUT_NAME: np.ascontiguousarray(windows, dtype=np.float32)}
        (scores,) = self._session.run([OUTPUT_NAME], feed)
        scores = np.asarray(scores, dtype=np.float32).reshape(len(windows), -1)
        if scores.shape[1] != self.n_labels:
            raise ModelFileError(
                f"{self.model.path}: model returned {scores.shape[1]} columns, "
                f"metadata names {self.n_labels} labels"
            )
        return scores
