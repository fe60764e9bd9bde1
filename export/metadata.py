"""The provenance and metrics written into ``metadata_props`` next to the contract keys.

:mod:`monitor.scoring.modelfile` defines the required keys (format version, feature
spec, task, labels, event labels, threshold, name, preset); this module adds
the free-form ones, all strings (structures JSON-encoded):

``metrics`` (validation metrics, JSON), ``manifest_sha256``, ``torch_version``
and ``torchaudio_version`` (of the training run, else of this exporter),
``created_utc`` (ISO 8601), ``model_config`` (architecture + channels, JSON),
``opset``, ``exporter``, ``data_counts`` (JSON: ``train`` distinct training clips,
``train_items_per_epoch`` when a recipe listed clips several times, validation clips,
validation clips per label) and, when the run recorded them, ``recipe``,
``command``, ``seed``, ``epoch``, ``crop``, ``augment``, ``interrupted``,
``data_sha256``. Paths of the data source are left out (machine-specific).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Final

import torch
import torchaudio

from monitor.scoring.modelfile import json_extra
from train.models import Checkpoint

OPTIONAL_KEYS: Final = (
    "recipe", "command", "seed", "epoch", "crop", "augment", "interrupted", "data_sha256",
    "detector", "stream_eval",
)
"""Checkpoint ``extra`` entries copied when present (non-strings as JSON)."""
NOT_RECORDED: Final = "not recorded"
MAX_LABELS_COUNTED: Final = 20
"""Per-label counts only for class labels, not for regression scores."""


def utc_now_iso() -> str:
    """Current time as ISO 8601 UTC with a ``Z`` suffix, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def export_metadata(checkpoint: Checkpoint, opset: int, created_utc: str | None = None) -> dict[str, str]:
    """The extra ``metadata_props`` (without prefix) for ``checkpoint``; all values strings."""
    extra = checkpoint.extra
    config = checkpoint.config
    props = {
        "metrics": json_extra(_plain(checkpoint.metrics)),
        "manifest_sha256": str(extra.get("manifest_sha256") or NOT_RECORDED),
        "torch_version": str(extra.get("torch_version", torch.__version__)),
        "torchaudio_version": str(extra.get("torchaudio_version", torchaudio.__version__)),
        "created_utc": created_utc or utc_now_iso(),
        "model_config": json_extra({"architecture": config.architecture,
                                    "channels": list(config.channels),
                                    "dropout": config.dropout}),
        "opset": str(opset),
        "data_counts": json_extra(data_counts(extra)),
        "exporter": f"coughwatch export, torch {torch.__version__}",
    }
    for key in OPTIONAL_KEYS:
        if key in extra and extra[key] is not None:
            value = extra[key]
            props[key] = value if isinstance(value, str) else json_extra(_plain(value))
    return props


def data_counts(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Clip counts the run recorded: ``train`` (distinct clips), ``train_items_per_epoch``
    (when it differs: oversampled or repeated clips), ``validation``, ``validation_by_label``."""
    if isinstance(extra.get("data_counts"), Mapping):
        return dict(_plain(extra["data_counts"]))
    counts: dict[str, Any] = {}
    per_epoch = extra.get("n_train")
    distinct = extra.get("n_train_clips", per_epoch)  # the recipe lists clips several times
    if distinct is not None:
        counts["train"] = _plain(distinct)
    if per_epoch is not None and per_epoch != distinct:
        counts["train_items_per_epoch"] = _plain(per_epoch)
    clips = extra.get("validation_clips") or extra.get("val_clips")
    if isinstance(clips, list) and clips:
        labels = [str(c.get("label")) for c in clips if isinstance(c, Mapping)]
        counts["validation"] = len(labels)
        by_label = Counter(labels)
        if len(by_label) <= MAX_LABELS_COUNTED:
            counts["validation_by_label"] = dict(sorted(by_label.items()))
    return counts


def _plain(value: Any) -> Any:
    """``value`` with tensors/numpy scalars turned into plain Python (for JSON)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (ValueError, RuntimeError):
            return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
