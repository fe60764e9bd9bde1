"""Fixtures for the training package: synthetic labelled data sets written as wav in temp dirs.

Every test here needs the ``[train]`` extra (torch, torchaudio).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from train.synth import write_dataset

SYNTH_RATE = 16000


def write_wav(path: Path, audio: np.ndarray, sample_rate: int = SYNTH_RATE, subtype: str = "FLOAT") -> Path:
    """Write ``audio`` (float ``[n]`` or ``[n, channels]``) to ``path``; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio, sample_rate, subtype=subtype)
    return path


def write_manifest(path: Path, rows: list[tuple[str, ...]], header: str = "path,label") -> Path:
    """A manifest CSV with ``header`` and one line per row tuple."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def synth_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Manifest of 120 synthetic clips (half cough), shared by the tests of a session."""
    return write_dataset(tmp_path_factory.mktemp("synth") / "set", n_clips=120, seed=1)


@pytest.fixture()
def small_set(tmp_path: Path) -> Path:
    """Manifest of 24 synthetic clips in this test's temp dir (free to damage)."""
    return write_dataset(tmp_path / "small", n_clips=24, seed=2)


@pytest.fixture(autouse=False)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the default waveform cache (XDG_CACHE_HOME) into the test's temp dir."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache
