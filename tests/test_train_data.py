"""Data sources, label meaning per task, and the group-aware split."""

from __future__ import annotations

import numpy as np
import pytest
from fx_train import write_manifest, write_wav

from train.data import load_folders, load_manifest
from train.errors import BadInputPolicy, DataError
from train.labels import check_learnable, make_scheme
from train.split import split_indices

pytestmark = pytest.mark.train

TONE = (0.1 * np.sin(np.arange(1600) / 5)).astype(np.float32)


def test_manifest_paths_are_relative_to_the_csv_and_extra_columns_kept(tmp_path):
    write_wav(tmp_path / "data" / "audio" / "a.wav", TONE)
    manifest = write_manifest(tmp_path / "data" / "m.csv", [("audio/a.wav", "cough", "spk1", "esc50")],
                              header="path,label,group,dataset")
    (clip,) = load_manifest(manifest)
    assert clip.path == (tmp_path / "data" / "audio" / "a.wav").resolve()
    assert (clip.label, clip.group, clip.rel_path) == ("cough", "spk1", "audio/a.wav")
    assert clip.extra == {"dataset": "esc50"}


def test_manifest_without_label_column_names_the_problem(tmp_path):
    manifest = write_manifest(tmp_path / "m.csv", [("a.wav",)], header="path")
    with pytest.raises(DataError, match="lacks column.*label"):
        load_manifest(manifest)


def test_missing_file_raises_or_is_skipped_and_counted(tmp_path):
    write_wav(tmp_path / "a.wav", TONE)
    manifest = write_manifest(tmp_path / "m.csv", [("a.wav", "cough"), ("gone.wav", "cough")])
    with pytest.raises(DataError, match=r"m.csv:3: gone.wav: no such file"):
        load_manifest(manifest)
    policy = BadInputPolicy(skip=True)
    clips = load_manifest(manifest, policy)
    assert [c.rel_path for c in clips] == ["a.wav"] and policy.skipped == 1


def test_folders_per_class(tmp_path):
    write_wav(tmp_path / "cough" / "x.wav", TONE)
    write_wav(tmp_path / "speech" / "deep" / "y.flac", TONE, subtype="PCM_16")
    (tmp_path / "speech" / "notes.txt").write_text("not audio")
    clips = load_folders(tmp_path)
    assert sorted((c.label, c.rel_path) for c in clips) == [("cough", "cough/x.wav"), ("speech", "speech/deep/y.flac")]


def test_binary_labels():
    scheme = make_scheme("binary", ["cough", "speech"])
    assert scheme.labels == ("cough",) and scheme.event_labels == ("cough",)
    assert [scheme.target(x) for x in ("cough", "Cough", "speech", "non_cough")] == [1.0, 1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="use --task regression"):
        scheme.target("0.7")


def test_regression_labels_must_be_numbers_in_unit_range():
    scheme = make_scheme("regression", [])
    assert scheme.target("0.25") == 0.25
    for bad in ("1.5", "cough", "nan"):
        with pytest.raises(ValueError, match="not a number in"):
            scheme.target(bad)


def test_multiclass_classes_sorted_and_negatives_produce_no_events():
    scheme = make_scheme("multiclass", ["speech", "cough", "background", "non_cough", "sneeze"])
    assert scheme.labels == ("background", "cough", "non_cough", "sneeze", "speech")
    assert scheme.event_labels == ("cough", "sneeze", "speech")
    with pytest.raises(ValueError, match="unknown label 'dog'"):
        scheme.target("dog")
    with pytest.raises(DataError, match="every class looks like a negative"):
        make_scheme("multiclass", ["non_cough", "noise"])


def test_single_class_and_constant_targets_are_refused():
    with pytest.raises(DataError, match="only class 'cough'"):
        check_learnable(np.ones(5, np.float32), make_scheme("binary", []), "training set")
    with pytest.raises(DataError, match="every target is 0.3"):
        check_learnable(np.full(5, 0.3, np.float32), make_scheme("regression", []), "training set")


def test_split_is_seeded_stratified_and_keeps_groups_apart():
    strata = [1] * 40 + [0] * 60
    groups = [f"p{i // 4}" for i in range(100)]
    train, val = split_indices(strata, groups, 0.2, seed=5)
    assert sorted(train + val) == list(range(100))
    assert {groups[i] for i in train}.isdisjoint({groups[i] for i in val})
    val_pos = sum(strata[i] for i in val)
    assert 6 <= val_pos <= 10 and 10 <= len(val) - val_pos <= 14
    assert split_indices(strata, groups, 0.2, seed=5) == (train, val)
    assert split_indices(strata, groups, 0.2, seed=6) != (train, val)


def test_split_without_groups_uses_single_clips():
    train, val = split_indices([0, 1] * 10, [None] * 20, 0.25, seed=0)
    assert len(val) >= 4 and set(train).isdisjoint(val)


def test_too_few_clips_for_a_split_is_one_clear_error():
    with pytest.raises(DataError, match="too few clips.*class 1 has 1 clip"):
        split_indices([0, 0, 0, 1], [None] * 4, 0.2, seed=0)
    with pytest.raises(DataError, match="1 group"):
        split_indices([0, 0, 1, 1], ["a", "a", "b", "b"], 0.5, seed=0)
