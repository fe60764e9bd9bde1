"""From clips to training data: labels -> targets, the split, decoded waveforms.

Every per-file problem (unknown label, unreadable audio) goes through the
run's :class:`BadInputPolicy`; set-level problems (one class only, too few
clips) raise :class:`DataError`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from train.cache import WaveformCache, load_all
from train.data import Clip
from train.errors import BadInputPolicy, DataError
from train.labels import LabelScheme, check_learnable
from train.split import split_indices

log = logging.getLogger(__name__)


@dataclass
class ClipSet:
    """Clips with their targets and (once loaded) waveforms, index-aligned."""

    clips: list[Clip]
    targets: np.ndarray
    """float32 ``[n]`` (binary 0/1, regression score) or int64 class indices (multiclass)."""
    waves: list[np.ndarray]
    """float16 ``[samples]`` mono at the model rate (empty until :func:`load_set`)."""

    def subset(self, indices: Sequence[int]) -> ClipSet:
        return ClipSet([self.clips[i] for i in indices], self.targets[list(indices)],
                       [self.waves[i] for i in indices] if self.waves else [])


def encode(clips: Sequence[Clip], scheme: LabelScheme, policy: BadInputPolicy) -> ClipSet:
    """Targets for ``clips``; a clip with an unknown label goes to ``policy``."""
    kept, targets = [], []
    for clip in clips:
        try:
            targets.append(scheme.target(clip.label))
        except ValueError as exc:
            policy.report(f"{clip.rel_path or clip.path}: {exc}")
            continue
        kept.append(clip)
    dtype = np.int64 if scheme.task == "multiclass" else np.float32
    return ClipSet(kept, np.asarray(targets, dtype=dtype), [])


def split(data: ClipSet, scheme: LabelScheme, val_fraction: float, seed: int) -> tuple[ClipSet, ClipSet]:
    """Seeded stratified split keeping groups together (see :mod:`train.split`)."""
    strata = data.targets if scheme.task == "multiclass" else scheme.is_event(data.targets)
    train_idx, val_idx = split_indices([int(s) for s in strata], [c.group for c in data.clips],
                                       val_fraction, seed)
    return data.subset(train_idx), data.subset(val_idx)


def load_set(data: ClipSet, cache: WaveformCache, policy: BadInputPolicy, threads: int, name: str) -> ClipSet:
    """``data`` with waveforms decoded; clips whose audio ``policy`` skipped are dropped."""
    waves = load_all(cache, [c.path for c in data.clips], policy, threads, desc=f"decoding {name}")
    keep = [i for i, wave in enumerate(waves) if wave is not None]
    return ClipSet([data.clips[i] for i in keep], data.targets[keep], [waves[i] for i in keep])


def check_sets(train: ClipSet, val: ClipSet, scheme: LabelScheme) -> None:
    """Training set must hold two classes; validation must not be empty (one class: warning)."""
    check_learnable(train.targets, scheme, "training set")
    if len(val.clips) == 0:
        raise DataError("validation set is empty")
    events = scheme.is_event(val.targets)
    if events.all() or not events.any():
        log.warning("validation set holds only %s: ROC AUC and threshold are undefined",
                    "coughs" if events.all() else "non-coughs")


def load_backgrounds(clips: Sequence[Clip], cache: WaveformCache, policy: BadInputPolicy,
                     threads: int) -> list[np.ndarray]:
    """Waveforms of extra background recordings (mixed under coughs by the augmentation)."""
    if not clips:
        return []
    waves = load_all(cache, [c.path for c in clips], policy, threads, desc="decoding backgrounds")
    return [w for w in waves if w is not None]
