"""Metrics in numpy against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from train.evaluation import event_metrics, selection_key, task_metrics
from train.labels import make_scheme
from train.metrics import (
    average_precision,
    best_f1_threshold,
    confusion_matrix,
    precision_recall_curve,
    regression_errors,
    roc_auc,
    roc_curve,
)

pytestmark = pytest.mark.train


def test_roc_auc_known_values_and_ties():
    y = np.array([0, 0, 1, 1], bool)
    assert roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert roc_auc(y, np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert roc_auc(y, np.array([0.4, 0.3, 0.2, 0.1])) == 0.0
    assert roc_auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5  # ties count half
    assert math.isnan(roc_auc(np.ones(3, bool), np.array([0.1, 0.2, 0.3])))


def test_roc_curve_ends_at_corners():
    fpr, tpr, thresholds = roc_curve(np.array([0, 1, 0, 1], bool), np.array([0.1, 0.9, 0.6, 0.4]))
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(thresholds) < 0)


def test_average_precision_known_value():
    # ranked: 0.8 (pos), 0.4 (neg), 0.35 (pos), 0.1 (neg): AP = 0.5 * 1 + 0.5 * 2/3
    y = np.array([0, 0, 1, 1], bool)
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    assert average_precision(y, scores) == pytest.approx(0.5 + 1 / 3)
    precision, recall, _ = precision_recall_curve(y, scores)
    np.testing.assert_allclose(recall, [0.5, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(precision, [1.0, 0.5, 2 / 3, 0.5])


def test_best_f1_threshold_separates_and_sits_between_scores():
    y = np.array([0, 0, 0, 1, 1], bool)
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.9])
    threshold, f1 = best_f1_threshold(y, scores)
    assert f1 == 1.0 and threshold == pytest.approx(0.5)


def test_confusion_matrix_rows_are_truth():
    matrix = confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])


def test_regression_errors_known_values():
    errors = regression_errors(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.5, 0.7]))
    assert errors["mae"] == pytest.approx(0.1)
    assert errors["rmse"] == pytest.approx(math.sqrt(0.03))
    assert errors["r2"] == pytest.approx(1 - 0.09 / 0.5)


def test_event_metrics_confusion_and_threshold():
    metrics = event_metrics(np.array([0, 1, 1, 0], bool), np.array([0.2, 0.9, 0.6, 0.7]), threshold=0.65)
    assert metrics["confusion"] == [[1, 1], [1, 1]]
    assert metrics["precision"] == 0.5 and metrics["recall"] == 0.5


def test_multiclass_metrics_use_the_best_event_class():
    scheme = make_scheme("multiclass", ["cough", "non_cough", "sneeze"])
    assert scheme.event_labels == ("cough", "sneeze")
    targets = np.array([0, 1, 2, 1])
    probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.3, 0.6, 0.1]])
    metrics = task_metrics(scheme, targets, probs)
    assert metrics["accuracy"] == 1.0 and metrics["roc_auc"] == 1.0
    assert metrics["class_confusion"] == [[1, 0, 0], [0, 2, 0], [0, 0, 1]]


def test_selection_prefers_higher_ap_and_lower_rmse():
    assert selection_key("binary", {"average_precision": 0.9}, 0.5) > selection_key(
        "binary", {"average_precision": 0.8}, 0.1)
    assert selection_key("regression", {"rmse": 0.1}, 0.5) > selection_key("regression", {"rmse": 0.2}, 0.1)
    assert selection_key("binary", {"average_precision": float("nan")}, 0.1)[0] == -math.inf
