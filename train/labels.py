"""What a clip's label means for each task, and the checks that a training set can learn.

- ``binary``: ``cough`` (any case) is positive, every other class name negative;
  one output column ``['cough']``.
- ``regression``: the label is a number in [0, 1] (a cough score such as
  COUGHVID's ``cough_detected``); one column ``['cough']``; "positive" (for
  thresholds, mixing, stratifying) means >= 0.5.
- ``multiclass``: columns are the sorted class names; the event labels are every
  class except negatives: names starting with ``non`` (``non_cough``) or in
  :data:`NEGATIVE_CLASSES`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from train.errors import DataError

POSITIVE_LABEL: Final = "cough"
NEGATIVE_CLASSES: Final = frozenset({"background", "other", "noise", "silence", "none", "negative"})
REGRESSION_POSITIVE: Final = 0.5
"""A regression target at or above this counts as a cough."""


@dataclass(frozen=True)
class LabelScheme:
    """How raw labels map to model outputs for one task."""

    task: str
    labels: tuple[str, ...]
    """Output column names."""
    event_labels: tuple[str, ...]
    """Columns that raise events in the monitor."""

    def target(self, label: str) -> float:
        """Training target of a raw label; raises ``ValueError`` naming an unknown label.

        binary: 1.0 / 0.0; regression: the number; multiclass: the class index.
        """
        if self.task == "binary":
            if _is_number(label):
                raise ValueError(f"label {label!r} is a number; use --task regression for scores")
            return 1.0 if label.strip().lower() == POSITIVE_LABEL else 0.0
        if self.task == "regression":
            value = float(label) if _is_number(label) else math.nan
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"label {label!r} is not a number in [0, 1] (regression target)")
            return value
        if label not in self.labels:
            raise ValueError(f"unknown label {label!r} (classes: {', '.join(self.labels)})")
        return float(self.labels.index(label))

    def is_event(self, targets: np.ndarray) -> np.ndarray:
        """bool ``[n]``: which targets are coughs (events)."""
        if self.task == "binary":
            return targets >= 0.5
        if self.task == "regression":
            return targets >= REGRESSION_POSITIVE
        event_index = [self.labels.index(name) for name in self.event_labels]
        return np.isin(targets.astype(np.int64), event_index)


def make_scheme(task: str, raw_labels: Sequence[str]) -> LabelScheme:
    """The scheme for ``task``; multiclass classes are the sorted distinct ``raw_labels``."""
    if task in ("binary", "regression"):
        return LabelScheme(task, (POSITIVE_LABEL,), (POSITIVE_LABEL,))
    classes = tuple(sorted(set(raw_labels)))
    events = tuple(c for c in classes if not _is_negative(c))
    if not events:
        raise DataError(f"multiclass: every class looks like a negative ({', '.join(classes)}); nothing to detect")
    return LabelScheme(task, classes, events)


def check_learnable(targets: np.ndarray, scheme: LabelScheme, where: str) -> None:
    """Raise :class:`DataError` when ``targets`` hold a single class (or a constant score)."""
    if len(targets) == 0:
        raise DataError(f"{where} is empty")
    if scheme.task == "regression":
        if float(np.ptp(targets)) == 0.0:
            raise DataError(f"{where}: every target is {targets[0]:g}; regression needs varied scores")
        return
    present = np.unique(targets)
    if len(present) < 2:
        only = _class_name(scheme, float(present[0]))
        raise DataError(f"{where} holds only class {only!r}; {scheme.task} needs at least two classes")


def _class_name(scheme: LabelScheme, target: float) -> str:
    if scheme.task == "binary":
        return POSITIVE_LABEL if target >= 0.5 else f"not {POSITIVE_LABEL}"
    return scheme.labels[int(target)]


def _is_negative(name: str) -> bool:
    lowered = name.strip().lower()
    return lowered.startswith("non") or lowered in NEGATIVE_CLASSES


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
