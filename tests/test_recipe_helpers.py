"""Recipe helpers: --train-fraction (a seeded share of every stratum) and the onset-rule pick."""

from __future__ import annotations

from pathlib import Path

import pytest

from train.data import Clip
from train.recipes.default_model import RECALL_MARGIN, fraction_of_strata, pick_rule

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


def test_a_slower_onset_rule_must_beat_the_faster_by_more_than_the_margin():
    def rule(name: str, meets: bool, value: float) -> tuple[bool, float, str, None]:
        return (meets, value, name, None)

    one, two, three = rule("1of1", True, 0.70), rule("2of2", True, 0.705), rule("2of3", True, 0.73)
    assert pick_rule([one, two, three])[2] == "2of3"  # +0.03 > RECALL_MARGIN over both
    assert pick_rule([one, rule("2of2", True, 0.715), three])[2] == "2of2"  # within 0.02 of the best
    assert pick_rule([one, two, rule("2of3", True, 0.70 + 0.75 * RECALL_MARGIN)])[2] == "1of1"
    assert pick_rule([rule("1of1", False, -3.0), rule("2of2", True, 0.715), three])[2] == "2of2"
    assert pick_rule([rule("1of1", False, -3.0), rule("2of2", False, -1.5)])[2] == "2of2"  # fewest alarms
