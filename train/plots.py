"""PNG plots of a run (matplotlib, Agg backend: no display needed).

- ``curves.png``: training and validation loss, validation metrics per epoch;
- ``roc_pr.png``: ROC and precision-recall of the best epoch's event score;
- ``pred_vs_true.png`` (regression): predicted score against the target.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend first)
import numpy as np  # noqa: E402

from train.fit import EpochRecord  # noqa: E402
from train.metrics import precision_recall_curve, roc_curve  # noqa: E402

CURVE_METRICS: Final = {
    "binary": ("roc_auc", "average_precision", "f1"),
    "multiclass": ("roc_auc", "average_precision", "accuracy", "macro_f1"),
    "regression": ("mae", "rmse", "r2", "roc_auc"),
}


def plot_history(history: Sequence[EpochRecord], task: str, path: Path) -> Path:
    """Loss (left) and validation metrics (right) per epoch."""
    epochs = [r.epoch for r in history]
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(epochs, [r.train_loss for r in history], "o-", label="train")
    ax_loss.plot(epochs, [r.val_loss for r in history], "o-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_loss.legend()
    for name in CURVE_METRICS[task]:
        ax_metric.plot(epochs, [r.metrics.get(name, np.nan) for r in history], "o-", label=name)
    ax_metric.set(xlabel="epoch", title="validation metrics")
    ax_metric.legend()
    return _save(fig, path)


def plot_roc_pr(is_event: np.ndarray, scores: np.ndarray, threshold: float, path: Path) -> Path:
    """ROC curve and precision-recall curve of the event score, threshold marked."""
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(10, 4.5))
    if is_event.any() and (~is_event).any():
        fpr, tpr, _ = roc_curve(is_event, scores)
        precision, recall, _ = precision_recall_curve(is_event, scores)
        ax_roc.plot(fpr, tpr)
        ax_pr.plot(np.r_[0.0, recall], np.r_[1.0, precision])
        predicted = scores >= threshold
        ax_roc.plot([predicted[~is_event].mean()], [predicted[is_event].mean()], "ro",
                    label=f"threshold {threshold:.3f}")
        ax_roc.legend(loc="lower right")
    ax_roc.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (validation)")
    ax_pr.set(xlabel="recall", ylabel="precision", title="precision-recall (validation)", ylim=(0, 1.02))
    return _save(fig, path)


def plot_pred_vs_true(targets: np.ndarray, predicted: np.ndarray, path: Path) -> Path:
    """Scatter of predicted score against the regression target, with the identity line."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(targets, predicted, s=8, alpha=0.6)
    ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
    ax.set(xlabel="target", ylabel="predicted", title="validation: predicted vs true", xlim=(0, 1), ylim=(0, 1))
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
