"""Seeded, stratified train/validation split that keeps each ``group`` on one side.

Clips without a group are their own group. A group takes the stratum (class,
or cough / not cough for regression) most of its clips have; within every
stratum whole groups are drawn at random until the validation share is reached.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Final

import numpy as np

from train.errors import DataError

MIN_GROUPS_PER_STRATUM: Final = 2
"""A stratum needs one group for each side of the split."""


def split_indices(
    strata: Sequence[int], groups: Sequence[str | None], val_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """(train indices, validation indices), both sorted, disjoint in groups.

    ``strata``: one int per clip (class index, or 0/1); ``groups``: one id per
    clip or None. Raises :class:`DataError` when a stratum has too few groups.
    """
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"validation fraction must be in (0, 1), not {val_fraction}")
    members = _group_members(groups)
    by_stratum = _groups_by_stratum(members, strata)
    rng = np.random.default_rng(seed)
    val: list[int] = []
    for stratum in sorted(by_stratum):
        names = by_stratum[stratum]
        if len(names) < MIN_GROUPS_PER_STRATUM:
            size = sum(len(members[n]) for n in names)
            raise DataError(
                f"too few clips for a train/validation split: class {stratum} has {size} clip(s) in "
                f"{len(names)} group(s); each class needs at least {MIN_GROUPS_PER_STRATUM}"
            )
        val += _draw(names, members, val_fraction, rng)
    val_set = set(val)
    train = [i for i in range(len(strata)) if i not in val_set]
    return train, sorted(val)


def _group_members(groups: Sequence[str | None]) -> dict[str, list[int]]:
    members: dict[str, list[int]] = defaultdict(list)
    for i, group in enumerate(groups):
        members[f"g:{group}" if group is not None else f"clip:{i}"].append(i)
    return members


def _groups_by_stratum(members: dict[str, list[int]], strata: Sequence[int]) -> dict[int, list[str]]:
    by_stratum: dict[int, list[str]] = defaultdict(list)
    for name in sorted(members):
        majority = Counter(strata[i] for i in members[name]).most_common(1)[0][0]
        by_stratum[majority].append(name)
    return by_stratum


def _draw(names: list[str], members: dict[str, list[int]], fraction: float, rng: np.random.Generator) -> list[int]:
    """Whole groups, in random order, until ``fraction`` of the stratum's clips; >= 1 group each side."""
    order = [names[i] for i in rng.permutation(len(names))]
    wanted = fraction * sum(len(members[n]) for n in names)
    chosen: list[int] = []
    for name in order[:-1]:
        if chosen and len(chosen) >= wanted:
            break
        chosen += members[name]
    return chosen
