"""Validation metrics per task, the decision threshold, and how the best epoch is chosen.

Every task also gets the event view the monitor uses: an event score per
window (binary/regression: the one column; multiclass: the highest event-class
probability) judged against "is a cough" with ROC AUC, average precision, and
F1 at a threshold chosen on validation (best F1).
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np

from train.labels import LabelScheme
from train.metrics import (
    average_precision,
    best_f1_threshold,
    confusion_matrix,
    precision_recall_f1,
    regression_errors,
    roc_auc,
)

SELECTED_BY: Final = {"binary": "average_precision", "multiclass": "average_precision", "regression": "rmse"}
"""Validation metric that picks the best epoch (ties: lower validation loss)."""
LOWER_IS_BETTER: Final = frozenset({"rmse", "mae", "loss"})


def event_scores(scheme: LabelScheme, probs: np.ndarray) -> np.ndarray:
    """float ``[n]`` cough score per window from model outputs ``probs`` ``[n, n_outputs]``."""
    if scheme.task != "multiclass":
        return probs[:, 0]
    columns = [scheme.labels.index(name) for name in scheme.event_labels]
    return probs[:, columns].max(axis=1)


def task_metrics(
    scheme: LabelScheme, targets: np.ndarray, probs: np.ndarray, threshold: float | None = None
) -> dict[str, Any]:
    """All validation metrics (JSON-ready); ``threshold=None`` picks the best-F1 threshold here."""
    is_event = scheme.is_event(targets)
    scores = event_scores(scheme, probs)
    metrics = event_metrics(is_event, scores, threshold)
    if scheme.task == "regression":
        metrics.update(regression_errors(targets, probs[:, 0]))
    elif scheme.task == "multiclass":
        metrics.update(class_metrics(scheme, targets.astype(np.int64), probs))
    return metrics


def event_metrics(is_event: np.ndarray, scores: np.ndarray, threshold: float | None) -> dict[str, Any]:
    """Cough-vs-rest figures of the event score; confusion is ``[[tn, fp], [fn, tp]]``."""
    if threshold is None:
        threshold, _ = best_f1_threshold(is_event, scores)
    threshold = float(min(max(threshold, 0.0), 1.0))
    predicted = scores >= threshold
    precision, recall, f1 = precision_recall_f1(is_event, predicted)
    return {
        "n": int(len(scores)),
        "n_events": int(is_event.sum()),
        "roc_auc": roc_auc(is_event, scores),
        "average_precision": average_precision(is_event, scores),
        "threshold": threshold,
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "confusion": confusion_matrix(is_event, predicted, 2).tolist(),
    }


def class_metrics(scheme: LabelScheme, classes: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Multiclass figures: accuracy, macro F1, per-class one-vs-rest AUC, confusion (argmax)."""
    predicted = probs.argmax(axis=1)
    n_classes = len(scheme.labels)
    f1s = [precision_recall_f1(classes == k, predicted == k)[2] for k in range(n_classes)]
    return {
        "accuracy": float(np.mean(predicted == classes)),
        "macro_f1": float(np.mean(f1s)),
        "class_roc_auc": {name: roc_auc(classes == k, probs[:, k]) for k, name in enumerate(scheme.labels)},
        "class_confusion": confusion_matrix(classes, predicted, n_classes).tolist(),
    }


def selection_key(task: str, metrics: dict[str, Any], loss: float) -> tuple[float, float]:
    """Sortable key, larger = better: (selection metric, -loss); NaN counts as worst."""
    name = SELECTED_BY[task]
    value = float(metrics.get(name, math.nan))
    if math.isnan(value):
        value = -math.inf
    elif name in LOWER_IS_BETTER:
        value = -value
    return value, -loss
