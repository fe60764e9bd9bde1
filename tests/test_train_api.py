"""The Python API the default-model recipe uses: own validation list, extra backgrounds."""

from __future__ import annotations

import numpy as np
import pytest
from fx_train import write_wav

from train.data import Clip, load_manifest
from train.loop import train
from train.settings import TrainSettings
from train.synth import noise

pytestmark = pytest.mark.train


@pytest.mark.slow
def test_explicit_validation_list_and_background_clips(small_set, tmp_path):
    clips = load_manifest(small_set)
    val = [c for c in clips if c.rel_path.endswith(("00000.wav", "00001.wav", "00012.wav", "00013.wav"))]
    rest = [c for c in clips if c not in val]
    rng = np.random.default_rng(0)
    background = Clip(write_wav(tmp_path / "bg.wav", noise(rng, 3.0, 0.05)), "background")
    settings = TrainSettings(out_dir=tmp_path / "run", epochs=1, batch_size=8, device="cpu")
    result = train(settings, rest, val_clips=val, backgrounds=[background])
    assert [c.rel_path for c in result.val_clips] == [c.rel_path for c in val]
    assert len(result.train_clips) == len(rest)
    listed = result.checkpoint.extra["validation_clips"]
    assert [(v["path"], v["label"]) for v in listed] == [(c.rel_path, c.label) for c in val]
    assert result.metrics["n_val"] == 4 and result.metrics["validation"]["n_events"] == 2
