"""Augmentation: each transform does what it says (SNR, band, level, noise floor)."""

from __future__ import annotations

import numpy as np
import pytest

from train.augment import Augmenter, AugmentSettings, band_limit, coloured_noise, mix_at_snr

pytestmark = pytest.mark.train
RATE = 16000


def _power(x):
    return float(np.mean(np.square(x, dtype=np.float64)))


def test_mix_at_snr_sets_the_power_ratio():
    rng = np.random.default_rng(0)
    fg = (0.3 * rng.standard_normal(RATE)).astype(np.float32)
    bg = (0.01 * rng.standard_normal(RATE)).astype(np.float32)
    mixed = mix_at_snr(fg, bg, 6.0)
    added = mixed - fg
    assert 10 * np.log10(_power(fg) / _power(added)) == pytest.approx(6.0, abs=0.01)
    np.testing.assert_array_equal(mix_at_snr(fg, np.zeros(RATE, np.float32), 0.0), fg)


def test_band_limit_keeps_the_telephone_band_only():
    t = np.arange(RATE) / RATE
    low, mid, high = (np.sin(2 * np.pi * f * t).astype(np.float32) for f in (100, 1000, 6000))
    out = band_limit(low + mid + high, RATE, 300, 3400)
    np.testing.assert_allclose(out, mid, atol=1e-3)


def test_coloured_noise_level():
    noise = coloured_noise(RATE, -50.0, np.random.default_rng(1))
    assert 10 * np.log10(_power(noise)) == pytest.approx(-50.0, abs=0.01)


def test_augmenter_removes_digital_silence_and_stays_in_range():
    aug = Augmenter(AugmentSettings(), RATE, backgrounds=[np.ones(100, np.float16) * 0.5])
    rng = np.random.default_rng(2)
    for is_event in (True, False):
        for _ in range(20):
            out = aug(np.zeros(RATE, np.float32), is_event, rng)
            assert out.dtype == np.float32 and out.shape == (RATE,)
            assert np.all(np.abs(out) <= 1.0) and np.count_nonzero(out) > RATE * 0.99


def test_augmenter_varies_the_level():
    loud = (0.5 * np.sin(np.arange(RATE) / 3)).astype(np.float32)
    aug = Augmenter(AugmentSettings(mix_probability=0, telephone_probability=0), RATE)
    rng = np.random.default_rng(3)
    levels = [10 * np.log10(_power(aug(loud, True, rng))) for _ in range(40)]
    assert max(levels) - min(levels) > 15


def test_cough_windows_are_mixed_into_backgrounds():
    background = (0.2 * np.sin(np.arange(RATE * 2) / 2)).astype(np.float32)
    settings = AugmentSettings(mix_probability=1.0, telephone_probability=0, gain_db=(0, 0),
                               noise_floor_dbfs=(-120, -120), snr_db=(0, 0))
    cough = np.zeros(RATE, np.float32)
    cough[:4000] = 0.5
    out = Augmenter(settings, RATE, [background])(cough, True, np.random.default_rng(4))
    assert np.std(out[6000:]) > 0.05  # background audible where the cough is silent


def test_settings_are_validated():
    with pytest.raises(ValueError, match="mix_probability"):
        AugmentSettings(mix_probability=1.5)
    with pytest.raises(ValueError, match="snr_db"):
        AugmentSettings(snr_db=(10, 0))
