"""Waveform preparation: each step's shape and values (load, mix-down, resample, cut/pad, crops, items)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fx_train import write_wav

from train.audio import crop_at, fit_length, load_waveform, loudest_window_start, read_mono
from train.crop import eval_window, train_window
from train.dataset import TrainWindows, eval_batch
from train.errors import BadClipError

pytestmark = pytest.mark.train


def test_read_mono_averages_channels_and_keeps_rate(tmp_path):
    left = np.full(800, 0.5, np.float32)
    right = np.full(800, -0.1, np.float32)
    path = write_wav(tmp_path / "st.wav", np.stack([left, right], axis=1), sample_rate=8000)
    wave, rate = read_mono(path)
    assert rate == 8000
    assert wave.dtype == np.float32 and wave.shape == (800,)
    np.testing.assert_allclose(wave, 0.2, atol=1e-6)


def test_load_waveform_resamples_length_and_keeps_a_tone(tmp_path):
    t = np.arange(44100) / 44100
    path = write_wav(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * 440 * t), sample_rate=44100)
    wave = load_waveform(path, 16000)
    assert wave.dtype == np.float32 and wave.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(np.argmax(spectrum) * 16000 / len(wave) - 440) < 2  # frequency kept
    assert np.sqrt(np.mean(wave[1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)


def test_fit_length_cuts_long_and_right_pads_short():
    long = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(fit_length(long, 4), [0, 1, 2, 3])
    short = np.array([1, 2], np.float32)
    out = fit_length(short, 5)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1, 2, 0, 0, 0])


def test_crop_at_fills_outside_with_zeros():
    wave = np.arange(1, 6, dtype=np.float32)
    np.testing.assert_array_equal(crop_at(wave, -2, 4), [0, 0, 1, 2])
    np.testing.assert_array_equal(crop_at(wave, 3, 4), [4, 5, 0, 0])
    np.testing.assert_array_equal(crop_at(wave, 9, 3), [0, 0, 0])


def _burst_clip(n=48000, at=30000, length=4000, rate=16000):
    rng = np.random.default_rng(0)
    wave = 0.001 * rng.standard_normal(n).astype(np.float32)
    wave[at : at + length] += 0.8 * rng.standard_normal(length).astype(np.float32)
    return wave


def test_loudest_window_holds_the_burst():
    wave = _burst_clip()
    start = loudest_window_start(wave, 16000, 16000)
    assert start <= 30000 and start + 16000 >= 34000
    assert loudest_window_start(wave[:1000], 16000, 16000) == 0


def test_eval_window_policies():
    wave = _burst_clip()
    first = eval_window(wave, 16000, 16000, "first")
    np.testing.assert_array_equal(first, wave[:16000])
    energy = eval_window(wave, 16000, 16000, "energy")
    assert energy.shape == (16000,) and np.max(np.abs(energy)) > 0.5


def test_energy_training_crops_hold_the_burst():
    wave = _burst_clip()
    rng = np.random.default_rng(1)
    for shift in (False, True):
        loud = [np.mean(train_window(wave, 16000, 16000, "energy", rng, shift) ** 2) > 0.01 for _ in range(50)]
        assert all(loud), f"shift={shift}: a crop missed the burst"


def test_shifted_crops_move_the_burst_across_the_window():
    wave = _burst_clip(n=20000, at=10000, length=800)
    rng = np.random.default_rng(2)
    peaks = [int(np.argmax(np.abs(train_window(wave, 16000, 16000, "energy", rng, True)))) for _ in range(60)]
    assert min(peaks) < 5000 and max(peaks) > 11000


def test_train_windows_items_are_fixed_length_float32_and_reproducible():
    waves = [_burst_clip().astype(np.float16), np.zeros(3000, np.float16)]
    data = TrainWindows(waves, np.array([1.0, 0.0], np.float32), np.array([True, False]), 16000, 16000,
                        "energy", None, seed=3)
    window, target = data[0]
    assert window.dtype == torch.float32 and window.shape == (16000,)
    assert target.dtype == torch.float32 and target.shape == (1,) and float(target) == 1.0
    torch.testing.assert_close(data[0][0], window)
    data.set_epoch(1)
    assert not torch.equal(data[0][0], window)  # a new crop every epoch
    assert data[1][0].shape == (16000,)


def test_eval_batch_shape():
    batch = eval_batch([_burst_clip(), np.ones(10, np.float16)], 16000, 16000, "energy")
    assert batch.shape == (2, 16000) and batch.dtype == torch.float32
    assert float(batch[1, :10].sum()) == 10.0 and float(batch[1, 10:].abs().sum()) == 0.0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.wav", None, "no such file"),
        ("garbage.wav", b"RIFF not really a wav file", "unreadable audio"),
        ("empty.wav", np.zeros(0, np.float32), "empty audio"),
        ("nan.wav", np.array([0.1, np.nan, 0.2] * 100, np.float32), "NaN"),
    ],
)
def test_bad_audio_raises_one_clear_error_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        write_wav(path, content)
    with pytest.raises(BadClipError, match=message) as info:
        read_mono(path)
    assert name in str(info.value)
