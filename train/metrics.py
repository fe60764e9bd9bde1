"""Classification and regression metrics in plain numpy (no scikit-learn).

``y_true`` arrays are bool ``[n]`` (binary) or int class indices; scores are
float ``[n]``, higher = more likely positive. Definitions follow scikit-learn
(ROC AUC with ties counted half; average precision = sum of precision at each
recall step).
"""

from __future__ import annotations

import numpy as np


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks); NaN with one class."""
    y = np.asarray(y_true, bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(np.asarray(scores, np.float64))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), np.float64)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_values)) + 1]
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2  # mean of 1-based ranks start+1..end
    return ranks


def _descending_counts(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds descending, true positives, false positives) at each distinct score."""
    y = np.asarray(y_true, bool)
    order = np.argsort(-np.asarray(scores, np.float64), kind="mergesort")
    s, y = np.asarray(scores, np.float64)[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[last]
    fps = (last + 1) - tps
    return s[last], tps.astype(np.float64), fps.astype(np.float64)


def roc_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds), starting at (0, 0)."""
    thresholds, tps, fps = _descending_counts(y_true, scores)
    n_pos, n_neg = max(tps[-1], 1.0), max(fps[-1], 1.0)
    return np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos], np.r_[np.inf, thresholds]


def precision_recall_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) for thresholds descending (score >= threshold = positive)."""
    thresholds, tps, fps = _descending_counts(y_true, scores)
    precision = tps / np.maximum(tps + fps, 1.0)
    recall = tps / max(tps[-1], 1.0)
    return precision, recall, thresholds


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Sum over thresholds of (recall step) x precision; NaN without positives."""
    if not np.asarray(y_true, bool).any():
        return float("nan")
    precision, recall, _ = precision_recall_curve(y_true, scores)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def precision_recall_f1(y_true: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """(precision, recall, F1) of bool predictions; 0.0 where undefined."""
    y, p = np.asarray(y_true, bool), np.asarray(predicted, bool)
    tp = float(np.sum(y & p))
    precision = tp / max(float(p.sum()), 1.0)
    recall = tp / max(float(y.sum()), 1.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def best_f1_threshold(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) maximising F1 for ``score >= threshold``.

    The threshold is set halfway between the best cut's score and the next
    lower distinct score, so it does not sit exactly on a validation score.
    """
    thresholds, tps, fps = _descending_counts(y_true, scores)
    n_pos = tps[-1]
    if n_pos == 0:
        return 0.5, 0.0
    f1 = 2 * tps / (tps + fps + n_pos)
    best = int(np.argmax(f1))
    below = thresholds[best + 1] if best + 1 < len(thresholds) else thresholds[best]
    return float((thresholds[best] + below) / 2), float(f1[best])


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """int64 ``[n_classes, n_classes]``: rows = true class, columns = predicted class."""
    matrix = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(matrix, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return matrix


def regression_errors(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """``mae``, ``rmse`` and ``r2`` (coefficient of determination; NaN for constant truth)."""
    y, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    residual = y - p
    total = float(np.sum((y - y.mean()) ** 2))
    return {
        "mae": float(np.mean(np.abs(residual))),
        "rmse": float(np.sqrt(np.mean(residual**2))),
        "r2": 1.0 - float(np.sum(residual**2)) / total if total > 0 else float("nan"),
    }
