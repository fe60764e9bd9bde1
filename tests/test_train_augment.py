"""Augmentation: each transform does what it says (SNR, band, level, noise floor)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from train.augment import Augmenter, AugmentSettings, band_limit, coloured_noise, mix_at_snr
from train.streams import BURST_DB

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


def test_one_burst_is_isolated_over_a_background_at_the_local_snr():
    """Two bursts in the window -> exactly one survives, somewhere, 25 dB over the background."""
    rng = np.random.default_rng(5)
    background = (0.05 * rng.standard_normal(RATE * 3)).astype(np.float32)
    window = np.zeros(RATE, np.float32)
    window[1000:3400] = 0.5 * np.sin(np.arange(2400) / 2)  # 150 ms burst
    window[9000:12200] = 0.3 * np.sin(np.arange(3200) / 3)  # 200 ms burst
    settings = AugmentSettings(segment_probability=1.0, mix_probability=0.0, telephone_probability=0,
                               gain_db=(0, 0), noise_floor_dbfs=(-120, -120), snr_db=(25, 25))
    aug = Augmenter(settings, RATE, [background])
    lengths = set()
    for seed in range(12):
        out = aug(window, True, np.random.default_rng(seed))
        loud = np.abs(out) > 0.2
        edges = np.flatnonzero(loud)
        span = edges[-1] - edges[0] + 1
        assert span in range(2150, 2401) or span in range(2900, 3201)  # one burst, not both
        lengths.add(span > 3000)
        burst = slice(edges[0], edges[-1] + 1)
        rest = np.ones(RATE, bool)
        rest[burst] = False
        bg_level = 10 * np.log10(_power(out[rest]))
        burst_level = 10 * np.log10(_power(out[burst]) - 10 ** (bg_level / 10))
        assert burst_level - bg_level == pytest.approx(25.0, abs=1.0)
    assert lengths == {True, False}  # either burst may be picked


def test_a_cough_window_is_cut_to_a_burst_never_to_a_quiet_breath():
    """A segment 20 dB under the window's peak (an in-breath) is isolated from non-cough
    windows but never labelled cough on its own."""
    window = np.zeros(RATE, np.float32)
    window[1000:3400] = 0.5 * np.sin(np.arange(2400) / 2)  # 150 ms cough burst
    window[9000:13800] = 0.05 * np.sin(np.arange(4800) / 3)  # 300 ms, 20 dB quieter
    settings = AugmentSettings(segment_probability=1.0, negative_segment_probability=1.0,
                               mix_probability=0.0, telephone_probability=0, gain_db=(0, 0),
                               noise_floor_dbfs=(-120, -120), snr_db=(40, 40), burst_db=BURST_DB)

    def isolated_lengths(settings: AugmentSettings, is_event: bool) -> list[int]:
        aug = Augmenter(settings, RATE, [np.full(RATE * 2, 1e-4, np.float32)])
        edges = [np.flatnonzero(np.abs(aug(window, is_event, np.random.default_rng(seed))) > 0.01)
                 for seed in range(12)]
        return [int(e[-1] - e[0] + 1) for e in edges]

    assert max(isolated_lengths(settings, True)) <= 2400
    assert max(isolated_lengths(settings, False)) > 4000
    assert max(isolated_lengths(replace(settings, burst_db=None), True)) > 4000  # any segment


def test_negative_windows_are_isolated_only_at_their_own_rate():
    window = np.zeros(RATE, np.float32)
    window[1000:3400] = 0.5
    settings = AugmentSettings(segment_probability=1.0, negative_segment_probability=0.0,
                               mix_probability=0.0, negative_mix_probability=0.0,
                               telephone_probability=0, gain_db=(0, 0), noise_floor_dbfs=(-120, -120))
    aug = Augmenter(settings, RATE, [np.ones(RATE, np.float32) * 0.1])
    out = aug(window, False, np.random.default_rng(0))
    np.testing.assert_allclose(out[1000:3400], 0.5, atol=1e-5)  # left where it was, no background


def test_settings_are_validated():
    with pytest.raises(ValueError, match="mix_probability"):
        AugmentSettings(mix_probability=1.5)
    with pytest.raises(ValueError, match="segment_probability"):
        AugmentSettings(segment_probability=-0.1)
    with pytest.raises(ValueError, match="snr_db"):
        AugmentSettings(snr_db=(10, 0))
