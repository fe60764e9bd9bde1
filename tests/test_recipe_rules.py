"""The recipe's onset-rule pick: a slower rule must find clearly more coughs."""

from __future__ import annotations

import pytest

from train.recipes.default_model import RECALL_MARGIN, pick_rule

pytestmark = pytest.mark.train


def test_a_slower_onset_rule_must_beat_the_faster_by_more_than_the_margin():
    def rule(name: str, meets: bool, value: float) -> tuple[bool, float, str, None]:
        return (meets, value, name, None)

    one, two, three = rule("1of1", True, 0.70), rule("2of2", True, 0.705), rule("2of3", True, 0.73)
    assert pick_rule([one, two, three])[2] == "2of3"  # +0.03 > RECALL_MARGIN over both
    assert pick_rule([one, rule("2of2", True, 0.715), three])[2] == "2of2"  # within 0.02 of the best
    assert pick_rule([one, two, rule("2of3", True, 0.70 + 0.75 * RECALL_MARGIN)])[2] == "1of1"
    assert pick_rule([rule("1of1", False, -3.0), rule("2of2", True, 0.715), three])[2] == "2of2"
    assert pick_rule([rule("1of1", False, -3.0), rule("2of2", False, -1.5)])[2] == "2of2"  # fewest alarms
