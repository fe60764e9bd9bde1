"""Decoded-waveform cache: memory + disk, keyed by path, mtime, size and rate."""

from __future__ import annotations

import os

import numpy as np
import pytest
from fx_train import write_wav

from train.cache import WaveformCache, load_all
from train.errors import BadInputPolicy, DataError

pytestmark = pytest.mark.train


def test_second_cache_reads_the_disk_copy(tmp_path):
    audio = write_wav(tmp_path / "a.wav", np.linspace(-0.5, 0.5, 8000, dtype=np.float32))
    first = WaveformCache(16000, tmp_path / "cache").get(audio)
    assert first.dtype == np.float16 and first.shape == (8000,)
    (stored,) = (tmp_path / "cache" / "waveforms").glob("*.npy")
    np.save(stored, np.full(8000, 0.25, np.float16))  # prove the next run reads this file
    again = WaveformCache(16000, tmp_path / "cache").get(audio)
    assert float(again[0]) == 0.25


def test_a_changed_file_or_another_rate_misses(tmp_path):
    audio = write_wav(tmp_path / "a.wav", np.zeros(8000, np.float32))
    WaveformCache(16000, tmp_path / "c").get(audio)
    assert WaveformCache(8000, tmp_path / "c").get(audio).shape == (4000,)
    write_wav(audio, np.ones(8000, np.float32) * 0.5)
    os.utime(audio, ns=(audio.stat().st_atime_ns, audio.stat().st_mtime_ns + 10**9))
    assert float(WaveformCache(16000, tmp_path / "c").get(audio)[100]) == 0.5
    assert len(list((tmp_path / "c" / "waveforms").glob("*.npy"))) == 3


def test_load_all_keeps_order_and_reports_bad_files_in_order(tmp_path):
    good = [write_wav(tmp_path / f"{i}.wav", np.full(100, i / 10, np.float32)) for i in range(3)]
    paths = [good[0], tmp_path / "gone.wav", good[1], good[2]]
    cache = WaveformCache(16000, None)
    with pytest.raises(DataError, match="gone.wav: no such file"):
        load_all(cache, paths, BadInputPolicy())
    policy = BadInputPolicy(skip=True)
    waves = load_all(cache, paths, policy, threads=2)
    assert waves[1] is None and policy.skipped == 1
    assert [round(float(w[0]), 2) for w in (waves[0], waves[2], waves[3])] == [0.0, 0.1, 0.2]
