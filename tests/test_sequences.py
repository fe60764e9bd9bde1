"""Training sequences for the context model: per-window targets, masks, auxiliary classes."""

from __future__ import annotations

import numpy as np
import pytest

from train.context import AUX_LABELS
from train.sequences import (
    IGNORE,
    Piece,
    SequenceDataset,
    SequenceSettings,
    _Draft,
    aux_class,
    window_targets,
)
from train.synth import cough_burst, speech_like

pytestmark = pytest.mark.train
pytest.importorskip("torch")

RATE_HZ = 16000
WINDOW = RATE_HZ
HOP = 2000
SPEECH = AUX_LABELS.index("speech")


def test_window_targets_positive_masked_and_negative() -> None:
    samples = 4 * RATE_HZ  # windows start every 0.125 s: 25 windows
    cough = (int(2.0 * RATE_HZ), int(2.3 * RATE_HZ))
    draft = _Draft(np.zeros(samples, np.float32), coughs=[cough], fills=[(0, samples, SPEECH)])
    target, mask, aux = window_targets(draft, samples, WINDOW, HOP, RATE_HZ)
    starts = np.arange(len(target)) * HOP
    for i, start in enumerate(starts):
        inside = max(0, min(start + WINDOW, cough[1]) - max(start, cough[0]))
        touching = start < cough[1] + 0.03 * RATE_HZ and start + WINDOW > cough[0] - 0.03 * RATE_HZ
        if inside >= (cough[1] - cough[0]) // 2:
            assert (target[i], mask[i], aux[i]) == (1.0, 1.0, AUX_LABELS.index("cough")), i
        elif touching:
            assert (mask[i], aux[i]) == (0.0, IGNORE), i
        else:
            assert (target[i], mask[i], aux[i]) == (0.0, 1.0, SPEECH), i
    assert target.sum() >= 6 and (mask == 0).sum() >= 2


def test_a_long_cough_needs_only_a_quarter_second_in_the_window() -> None:
    samples = 4 * RATE_HZ
    draft = _Draft(np.zeros(samples, np.float32), coughs=[(int(0.5 * RATE_HZ), int(3.5 * RATE_HZ))])
    target, _, _ = window_targets(draft, samples, WINDOW, HOP, RATE_HZ)
    assert target.all()  # every window holds >= 0.25 s of the 3 s volley


@pytest.mark.parametrize(("dataset", "category", "label", "expected"), [
    ("ami_meetings", "throat clear", "non_cough", "throat_clear"),
    ("esc50_16k", "sneezing", "non_cough", "sneeze"),
    ("esc50_16k", "laughing", "non_cough", "laugh"),
    ("coswara_20200413", "breathing-deep", "non_cough", "breathing"),
    ("ami_meetings", "expiration", "non_cough", "breathing"),
    ("speech_commands_test_v2", "speech_word", "non_cough", "speech"),
    ("speech_commands_test_v2", "background_noise", "non_cough", "other"),
    ("fsdd", "", "non_cough", "speech"),
    ("esc50_16k", "dog", "non_cough", "other"),
    ("covid19_cough", "", "cough", "cough"),
])
def test_aux_class_from_manifest_columns(dataset: str, category: str, label: str, expected: str) -> None:
    assert AUX_LABELS[aux_class(dataset, category, label)] == expected


def _dataset(seed: int = 0) -> SequenceDataset:
    rng = np.random.default_rng(1)
    background = [Piece(speech_like(rng, 1.5), SPEECH) for _ in range(6)]
    coughs = [Piece(np.concatenate([np.zeros(1600, np.float32), cough_burst(rng), np.zeros(1600, np.float32)]),
                    AUX_LABELS.index("cough")) for _ in range(4)]
    clip = 0.3 * speech_like(rng, 2.5)
    burst = cough_burst(rng)
    clip[RATE_HZ:RATE_HZ + len(burst)] += burst
    room = [Piece(clip, SPEECH, ((RATE_HZ, RATE_HZ + len(burst)),))]
    settings = SequenceSettings(seconds=4.0, cough_probability=1.0, room_probability=0.3)
    return SequenceDataset(background, room, coughs, settings, RATE_HZ, WINDOW, HOP, n_items=8, seed=seed)


def test_items_are_seeded_shaped_and_hold_coughs() -> None:
    data = _dataset()
    audio, target, mask, aux = data[3]
    assert audio.shape == (WINDOW + 24 * HOP,) and target.shape == mask.shape == aux.shape == (25,)
    assert audio.abs().max() <= 1.0
    again = data[3]
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip((audio, target, mask, aux), again, strict=True))
    data.set_epoch(1)
    assert not np.array_equal(data[3][0].numpy(), audio.numpy())
    positives = sum(float(_dataset()[i][1].sum()) for i in range(8))
    assert positives > 0  # cough_probability 1: coughs in (nearly) every sequence


def test_distillation_trains_against_an_exported_teacher(tmp_path) -> None:
    """A stateless ONNX teacher's per-window scores become soft targets (``ctx-distilled``)."""
    import json

    import soundfile
    from fx_models import make_energy_model

    from train.data import Clip
    from train.sequence_fit import EnsembleTeacher, SequenceTrainSettings, train_sequences

    teacher = EnsembleTeacher([make_energy_model(tmp_path / "energy.onnx")])
    rng = np.random.default_rng(4)
    quiet, loud = 0.001 * speech_like(rng, 3.0), np.pad(cough_burst(rng), (8000, 20000))
    scores = teacher(np.concatenate([quiet, loud]).astype(np.float32), HOP * 2)
    assert scores.shape == ((len(quiet) + len(loud) - WINDOW) // (HOP * 2) + 1,)
    assert scores[0] < 0.5 < scores.max()  # the energy teacher fires on the loud burst only

    clips = []
    for i, (label, audio) in enumerate([("cough", loud)] * 3 + [("non_cough", 0.1 * speech_like(rng, 2.0))] * 3):
        path = tmp_path / f"{label}{i}.wav"
        soundfile.write(str(path), audio.astype(np.float32), RATE_HZ)
        clips.append(Clip(path, label))
    settings = SequenceTrainSettings(out_dir=tmp_path / "run", epochs=1, sequences_per_epoch=32, batch_size=16,
                                     workers=0, cache_dir=tmp_path / "cache")
    run = train_sequences(settings, clips, teacher=teacher)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["distilled"] is True and metrics["epochs_run"] == 1 and (run / "model.pt").is_file()
