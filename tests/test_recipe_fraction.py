"""The recipe's --train-fraction: a seeded share of every (dataset, label) stratum."""

from __future__ import annotations

from pathlib import Path

import pytest

from train.data import Clip
from train.recipes.default_model import fraction_of_strata

pytestmark = pytest.mark.train


def _clips() -> list[Clip]:
    strata = [("a", "cough", 10), ("a", "non_cough", 4), ("b", "non_cough", 1)]
    return [Clip(Path(f"/{d}/{label}/{i}.wav"), label, extra={"dataset": d})
            for d, label, n in strata for i in range(n)]


def test_keeps_the_share_of_each_stratum_in_order_and_at_least_one():
    clips = _clips()
    half = fraction_of_strata(clips, 0.5, seed=0)
    counts = {(c.extra["dataset"], c.label): 0 for c in clips}
    for c in half:
        counts[(c.extra["dataset"], c.label)] += 1
    assert counts == {("a", "cough"): 5, ("a", "non_cough"): 2, ("b", "non_cough"): 1}
    order = [clips.index(c) for c in half]
    assert order == sorted(order)


def test_is_seeded_and_whole_at_one():
    clips = _clips()
    assert fraction_of_strata(clips, 0.5, seed=3) == fraction_of_strata(clips, 0.5, seed=3)
    assert fraction_of_strata(clips, 0.5, seed=3) != fraction_of_strata(clips, 0.5, seed=4)
    assert fraction_of_strata(clips, 1.0, seed=3) == clips
