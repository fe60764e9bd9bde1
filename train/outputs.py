"""What a run leaves in its folder: model.pt, metrics.json, history.csv, plots, summary.txt.

``history.csv`` grows one row per epoch while training, so an interrupted or
crashed run still shows how far it got.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch

from train.fit import EpochRecord
from train.models import Checkpoint

CHECKPOINT_NAME: Final = "model.pt"
METRICS_NAME: Final = "metrics.json"
HISTORY_NAME: Final = "history.csv"
SUMMARY_NAME: Final = "summary.txt"
HISTORY_METRICS: Final = {
    "binary": ("roc_auc", "average_precision", "f1", "precision", "recall", "threshold"),
    "multiclass": ("roc_auc", "average_precision", "f1", "threshold", "accuracy", "macro_f1"),
    "regression": ("mae", "rmse", "r2", "roc_auc", "average_precision", "f1", "threshold"),
}


def save_checkpoint(checkpoint: Checkpoint, run_dir: Path) -> Path:
    """``torch.save(checkpoint.to_dict())`` to ``run_dir/model.pt`` (atomically)."""
    path = run_dir / CHECKPOINT_NAME
    tmp = path.with_suffix(".pt.tmp")
    torch.save(checkpoint.to_dict(), tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a ``model.pt`` (or the ``model.pt`` in a run folder); ``ValueError`` if foreign."""
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    data = torch.load(path, map_location="cpu", weights_only=True)
    return Checkpoint.from_dict(data)


def write_json(data: dict[str, Any], path: Path) -> Path:
    """Pretty JSON; NaN/inf become null so any JSON reader accepts the file."""
    path.write_text(json.dumps(json_safe(data), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


class HistoryWriter:
    """Appends one ``history.csv`` row per finished epoch."""

    def __init__(self, run_dir: Path, task: str) -> None:
        self.path = run_dir / HISTORY_NAME
        self.columns = ["epoch", "train_loss", "val_loss", *HISTORY_METRICS[task], "seconds", "lr"]
        with self.path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow(self.columns)

    def __call__(self, record: EpochRecord) -> None:
        values = {"epoch": record.epoch, "train_loss": record.train_loss, "val_loss": record.val_loss,
                  "seconds": round(record.seconds, 3), "lr": record.lr, **record.metrics}
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerow([_cell(values.get(c)) for c in self.columns])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return "" if value is None else str(value)
