"""CPU smoke training on synthetic audio: the model really learns, and runs repeat exactly."""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest
import torch

from train.data import load_manifest
from train.evaluation import selection_key
from train.loop import train
from train.metrics import roc_auc
from train.outputs import load_checkpoint
from train.predict import Predictor
from train.settings import TrainSettings
from train.synth import write_dataset

pytestmark = pytest.mark.train


@pytest.mark.slow
def test_smoke_train_learns_held_out_synthetic_audio(synth_set, tmp_path):
    settings = TrainSettings(out_dir=tmp_path / "run", epochs=8, patience=8, seed=0, device="cpu",
                             cache_dir=tmp_path / "cache")
    started = time.perf_counter()
    result = train(settings, load_manifest(synth_set))
    elapsed = time.perf_counter() - started
    held_out = write_dataset(tmp_path / "held_out", n_clips=60, seed=99)
    predictor = Predictor(load_checkpoint(result.run_dir), torch.device("cpu"))
    rows = list(csv.DictReader(held_out.open()))
    scores = np.array([predictor.score_file(held_out.parent / r["path"]).event_max for r in rows])
    truth = np.array([r["label"] == "cough" for r in rows])
    auc = roc_auc(truth, scores)
    print(f"smoke train: {elapsed:.1f} s, {result.metrics['seconds_per_epoch']:.2f} s/epoch, "
          f"val AUC {result.metrics['validation']['roc_auc']:.3f}, held-out AUC {auc:.3f}")
    assert auc > 0.9
    assert 0.0 < result.checkpoint.threshold < 1.0


def _one_epoch(manifest, out_dir, **overrides):
    """One seeded CPU epoch on ``manifest`` with ``overrides`` of the settings."""
    settings = TrainSettings(out_dir=out_dir, epochs=1, batch_size=8, seed=3, device="cpu", val_fraction=0.3,
                             **overrides)
    return train(settings, load_manifest(manifest))


@pytest.mark.slow
def test_same_seed_same_run_whatever_the_worker_count(small_set, tmp_path):
    a, b = _one_epoch(small_set, tmp_path / "a", workers=0), _one_epoch(small_set, tmp_path / "b", workers=2)
    assert a.fit.history[0].train_loss == b.fit.history[0].train_loss
    for key, tensor in a.checkpoint.state_dict.items():
        torch.testing.assert_close(tensor, b.checkpoint.state_dict[key], rtol=0, atol=0)
    assert [c.rel_path for c in a.val_clips] == [c.rel_path for c in b.val_clips]


@pytest.mark.slow
def test_a_weight_average_is_kept_without_changing_the_optimisation(small_set, tmp_path):
    raw, averaged, instant = (_one_epoch(small_set, tmp_path / name, ema_decay=decay)
                              for name, decay in (("raw", 0.0), ("ema", 0.9), ("instant", 1e-12)))
    assert raw.fit.history[0].train_loss == averaged.fit.history[0].train_loss  # same steps taken
    weights = [k for k in raw.checkpoint.state_dict if k.endswith("weight")]
    assert any(not torch.equal(raw.checkpoint.state_dict[k], averaged.checkpoint.state_dict[k]) for k in weights)
    for key, tensor in raw.checkpoint.state_dict.items():  # decay ~0: the average is the last step
        torch.testing.assert_close(instant.checkpoint.state_dict[key].float(), tensor.float(), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_keep_last_runs_every_epoch_and_keeps_the_final_weights(small_set, tmp_path):
    def run(name: str, **overrides: object):
        settings = TrainSettings(out_dir=tmp_path / name, epochs=3, batch_size=8, seed=3, device="cpu",
                                 val_fraction=0.3, **overrides)
        return train(settings, load_manifest(small_set))

    last = run("last", keep="last", patience=1)
    best = run("best", keep="best", patience=100)
    assert [h.epoch for h in last.fit.history] == [1, 2, 3] and last.fit.best_epoch == 3
    assert (last.metrics["keep"], last.metrics["selected_by"]) == ("last", "last epoch")
    assert (best.metrics["keep"], best.metrics["selected_by"]) == ("best", "average_precision")
    assert [h.train_loss for h in last.fit.history] == [h.train_loss for h in best.fit.history]
    keys = [selection_key("binary", h.metrics, h.val_loss) for h in best.fit.history]
    assert best.fit.best_epoch == 1 + keys.index(max(keys))
    if best.fit.best_epoch != 3:  # the kept weights differ exactly when the best epoch was earlier
        assert any(not torch.equal(last.checkpoint.state_dict[k], best.checkpoint.state_dict[k])
                   for k in last.checkpoint.state_dict)


def test_keep_must_be_best_or_last(tmp_path):
    with pytest.raises(Exception, match="--keep must be one of best, last"):
        TrainSettings(out_dir=tmp_path, keep="first")
