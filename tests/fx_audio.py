"""Fixtures: generated audio files and a helper to run the real ``cough-monitor`` CLI.

Audio is made in the test from :mod:`train.synth` (numpy only): a noise floor
with cough-like bursts at known sample positions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile

from train.synth import SyntheticStream, cough_stream

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class CliResult:
    """What a ``cough-monitor`` subprocess did."""

    returncode: int
    stdout: str
    stderr: str

    def json_lines(self) -> list[dict]:
        """stdout parsed as JSON lines (fails the test if any line is not JSON)."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def error_lines(self) -> list[str]:
        """stderr lines that report an error."""
        return [line for line in self.stderr.splitlines() if ": error: " in line]


def write_audio(path: Path, audio: np.ndarray, sample_rate: int, subtype: str = "FLOAT") -> Path:
    """Write float32 ``audio`` (``[n]`` or ``[n, channels]``) to ``path`` with soundfile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio, sample_rate, subtype=subtype)
    return path


def run_monitor(
    args: Sequence[str],
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 120,
) -> CliResult:
    """Run ``python -m monitor.cli ARGS`` in a subprocess (the real command line)."""
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        timeout=timeout_s,
    )
    return CliResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.fixture(scope="session")
def cough_stream_wav(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SyntheticStream]:
    """A 20 s, 16 kHz float WAV with 4 coughs at known samples, and its truth."""
    stream = cough_stream(np.random.default_rng(7), duration_s=20.0, n_coughs=4)
    path = tmp_path_factory.mktemp("audio") / "stream.wav"
    return write_audio(path, stream.audio, stream.sample_rate), stream


@pytest.fixture(scope="session")
def monitor_cli() -> Callable[..., CliResult]:
    """:func:`run_monitor`, as a fixture."""
    return run_monitor
