"""The run's validation clips, prepared exactly as training prepared them.

``cough-train`` records them in ``Checkpoint.extra["validation_clips"]``: a
list of ``{"path", "label", "file"}`` (``file`` absolute, ``path`` as written
in the manifest, relative to it); the manifest (or data folder) is
``extra["source"]["path"]``. ``val_clips`` / ``manifest_path`` are read too. They are decoded, mixed down, resampled and cropped with
the train package's own functions (:mod:`train.audio`, :mod:`train.crop`), so
an exported model sees the very windows the validation metrics came from.
Clips that are missing on this machine are skipped (counted, not fatal).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from export.probes import Window
from train.audio import load_waveform
from train.crop import CROP_POLICIES, eval_window
from train.errors import BadClipError
from train.labels import LabelScheme
from train.models import Checkpoint

log = logging.getLogger(__name__)

SELECT_SEED: Final = 7


def crop_policy(checkpoint: Checkpoint) -> str:
    """Validation crop of the run: recorded ``crop`` or, for older runs, by preset."""
    recorded = checkpoint.extra.get("crop")
    if recorded in CROP_POLICIES:
        return str(recorded)
    return "first" if checkpoint.config.preset.startswith("seed") else "energy"


def clip_entries(checkpoint: Checkpoint, run_dir: Path) -> list[tuple[Path, str, str]]:
    """(path, raw label, name as recorded) of every recorded validation clip on disk."""
    raw = checkpoint.extra.get("validation_clips") or checkpoint.extra.get("val_clips") or []
    roots = _roots(checkpoint.extra, run_dir)
    found, missing = [], 0
    for item in raw if isinstance(raw, Sequence) else []:
        if not isinstance(item, Mapping) or "label" not in item:
            continue
        names = [str(item[k]) for k in ("file", "path") if item.get(k)]
        path = next((p for p in (_resolve(name, roots) for name in names) if p is not None), None)
        if path is None:
            missing += 1
        else:
            found.append((path, str(item["label"]), names[-1]))
    if missing:
        log.warning("%d of %d validation clips are not on this machine; skipped", missing, len(raw))
    return found


def load_validation(
    checkpoint: Checkpoint, run_dir: Path, limit: int, balanced: bool = True
) -> list[Window]:
    """Up to ``limit`` labelled validation windows (half coughs when ``balanced``), deterministic."""
    if limit <= 0:
        return []
    scheme = LabelScheme(checkpoint.config.task, tuple(checkpoint.labels), tuple(checkpoint.event_labels))
    labelled = []
    for path, label, name in clip_entries(checkpoint, run_dir):
        try:
            positive = bool(scheme.is_event(np.array([scheme.target(label)]))[0])
        except ValueError:
            continue
        labelled.append((path, name, positive))
    chosen = _select(labelled, limit, balanced)
    spec = checkpoint.config.spec
    policy = crop_policy(checkpoint)
    windows = []
    for path, name, positive in chosen:
        try:
            wave = load_waveform(path, spec.sample_rate)
        except BadClipError as exc:
            log.warning("validation clip skipped: %s", exc)
            continue
        window = eval_window(wave, spec.window_samples, spec.sample_rate, policy)
        windows.append(Window(name, window, positive))
    return windows


def _select(labelled: list[tuple[Path, str, bool]], limit: int, balanced: bool) -> list[tuple[Path, str, bool]]:
    """A seeded subset of ``limit`` clips; balanced = up to half coughs, classes interleaved
    (so any prefix of the result, e.g. the parity clips, holds both classes)."""
    order = np.random.default_rng(SELECT_SEED).permutation(len(labelled))
    shuffled = [labelled[i] for i in order]
    if not balanced:
        return shuffled[:limit]
    pos = [c for c in shuffled if c[2]]
    neg = [c for c in shuffled if not c[2]]
    n_pos = min(len(pos), max(limit // 2, limit - len(neg)))
    pos, neg = pos[:n_pos], neg[: limit - n_pos]
    mixed = [c for pair in zip(pos, neg, strict=False) for c in pair]
    rest = pos[len(neg):] + neg[len(pos):]
    return mixed + rest


def _roots(extra: Mapping[str, Any], run_dir: Path) -> list[Path]:
    """Folders a relative clip path may be relative to: the data source's, the run's, cwd."""
    sources = [extra.get("manifest_path")]
    source = extra.get("source")
    if isinstance(source, Mapping):
        sources.append(source.get("path"))
    roots = []
    for text in (s for s in sources if s):
        path = Path(str(text))
        for candidate in ([path] if path.is_absolute() else [Path.cwd() / path, run_dir / path]):
            roots.append(candidate if candidate.is_dir() else candidate.parent)
    return roots + [run_dir, Path.cwd()]


def _resolve(text: str, roots: list[Path]) -> Path | None:
    path = Path(text)
    candidates = [path] if path.is_absolute() else [root / path for root in roots]
    return next((c for c in candidates if c.is_file()), None)
