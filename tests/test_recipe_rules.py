"""Recipe helpers: the onset-rule pick (a slower rule must find clearly more coughs) and
the hard-negative copies."""

from __future__ import annotations

import pytest

from monitor.errors import ConfigError
from train.data import Clip
from train.recipes import default_model
from train.recipes.default_model import RECALL_MARGIN, hard_negatives, pick_rule

pytestmark = pytest.mark.train


@pytest.mark.parametrize("preset", ["default", "seed"])
def test_recipe_names_its_models_coughwatch_preset_and_records_the_distinct_clips(
    preset, tmp_path, monkeypatch
):
    trained = []
    monkeypatch.setattr(default_model, "train", lambda settings, *clips: trained.append(settings))
    args = default_model.build_parser().parse_args(["--data", str(tmp_path), "--out", str(tmp_path)])
    args.train_seed = 0
    clips = [Clip(tmp_path / f"{i}.wav", "cough" if i % 2 else "non_cough",
                  extra={"dataset": "esc50_16k", "category": "sneezing"}) for i in range(4)]
    default_model.train_preset(preset, 1, args, clips, clips[:1], "sha", [])
    assert trained[0].model_name == f"coughwatch-{preset}"  # --install ships coughwatch-default
    assert trained[0].provenance["n_train_clips"] == 4


def test_a_slower_onset_rule_must_beat_the_faster_by_more_than_the_margin():
    def rule(name: str, meets: bool, value: float) -> tuple[bool, float, str, None]:
        return (meets, value, name, None)

    one, two, three = rule("1of1", True, 0.70), rule("2of2", True, 0.705), rule("2of3", True, 0.73)
    assert pick_rule([one, two, three])[2] == "2of3"  # +0.03 > RECALL_MARGIN over both
    assert pick_rule([one, rule("2of2", True, 0.715), three])[2] == "2of2"  # within 0.02 of the best
    assert pick_rule([one, two, rule("2of3", True, 0.70 + 0.75 * RECALL_MARGIN)])[2] == "1of1"
    assert pick_rule([rule("1of1", False, -3.0), rule("2of2", True, 0.715), three])[2] == "2of2"
    assert pick_rule([rule("1of1", False, -3.0), rule("2of2", False, -1.5)])[2] == "2of2"  # fewest alarms


def test_hard_negatives_copy_the_category_and_only_a_smoke_subset_may_lack_it(tmp_path):
    clips = [Clip(tmp_path / f"{i}.wav", "non_cough", extra={"dataset": "esc50_16k", "category": cat})
             for i, cat in enumerate(["sneezing", "sneezing", "laughing"])]
    extra = hard_negatives(clips, ["esc50_16k/sneezing=3"])
    assert extra == [clips[0], clips[1]] * 2
    with pytest.raises(ConfigError, match="no training clips of category 'esc50_16k/snoring'"):
        hard_negatives(clips, ["esc50_16k/snoring=2"])
    assert hard_negatives(clips, ["esc50_16k/snoring=2"], strict=False) == []
    with pytest.raises(ConfigError, match="expected DATASET/CATEGORY=N"):
        hard_negatives(clips, ["sneezing"], strict=False)
