"""Generated test audio (``train/synth.py``): a long noisy recording with coughs, and cough clips.

Nothing is downloaded: every benchmark input is synthesised here, seeded, and
written as 16-bit WAV.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import soundfile

from train.synth import cough_burst, cough_stream

STREAM_RATE_HZ: Final = 48000
"""Rate of the replay recording: a common recorder rate, so replay also resamples."""
COUGH_EVERY_S: Final = 4.0
"""One cough burst per this many seconds of the replay recording."""
BACKGROUND_LEVEL: Final = 0.01
"""RMS of the noise floor (about -40 dBFS)."""


@dataclass(frozen=True)
class StreamFile:
    """A written recording and where its coughs are."""

    path: Path
    duration_s: float
    sample_rate: int
    cough_starts_s: list[float]


def write_stream(path: Path, duration_s: float, seed: int = 0,
                 sample_rate: int = STREAM_RATE_HZ) -> StreamFile:
    """Noise floor + a cough burst every ~:data:`COUGH_EVERY_S`, mono 16-bit WAV at ``sample_rate``."""
    rng = np.random.default_rng(seed)
    n_coughs = max(1, int(duration_s // COUGH_EVERY_S))
    stream = cough_stream(rng, duration_s, n_coughs, sample_rate, BACKGROUND_LEVEL)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), stream.audio, sample_rate, subtype="PCM_16")
    return StreamFile(path, duration_s, sample_rate, [s / sample_rate for s in stream.cough_starts])


def write_cough_clip(path: Path, lead_s: float, tail_s: float, sample_rate: int,
                     seed: int) -> float:
    """``lead_s`` of silence, one cough burst, ``tail_s`` of silence; returns the burst length in s."""
    rng = np.random.default_rng(seed)
    burst = cough_burst(rng, sample_rate)
    lead, tail = int(lead_s * sample_rate), int(tail_s * sample_rate)
    audio = np.zeros(lead + len(burst) + tail, dtype=np.float32)
    audio[lead : lead + len(burst)] = burst
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio, sample_rate, subtype="PCM_16")
    return len(burst) / sample_rate


EXAMPLE_DIR: Final = Path(__file__).resolve().parents[1] / "monitor" / "examples"
"""The bundled example recording: real CC0 coughs with known positions (example.json)."""


def write_example_cough_clip(path: Path, lead_s: float, tail_s: float, index: int) -> float:
    """Like :func:`write_cough_clip` with the ``index``-th real cough of the bundled example
    (16 kHz); the trained default model does not fire on synthetic bursts. Returns its length in s."""
    import json

    audio, sample_rate = soundfile.read(str(EXAMPLE_DIR / "example.ogg"), dtype="float32")
    coughs = json.loads((EXAMPLE_DIR / "example.json").read_text())["coughs"]
    start_s, end_s = coughs[index % len(coughs)]
    cough = audio[int(start_s * sample_rate): int(end_s * sample_rate)]
    lead, tail = int(lead_s * sample_rate), int(tail_s * sample_rate)
    out = np.concatenate([np.zeros(lead, np.float32), cough, np.zeros(tail, np.float32)])
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), out, sample_rate, subtype="PCM_16")
    return len(cough) / sample_rate
