"""Evaluation streams (train.streams): coughs land where the truth says, passes join correctly."""

from __future__ import annotations

import numpy as np

from train.streams import (
    BURST_DB,
    Stream,
    concat_streams,
    cough_segments,
    negative_stream,
    positive_stream,
    rms_db,
)
from train.synth import cough_burst, speech_like

RATE_HZ = 16000


def _clips(rng: np.random.Generator) -> dict[str, np.ndarray]:
    clips = {f"speech{i}": speech_like(rng, 1.5) for i in range(6)}
    clips |= {f"cough{i}": np.concatenate([np.zeros(800, np.float32), cough_burst(rng), np.zeros(800, np.float32)])
              for i in range(3)}
    return clips


def test_positive_passes_join_with_truth_shifted_onto_the_coughs() -> None:
    rng = np.random.default_rng(0)
    clips = _clips(rng)
    speech = [name for name in clips if name.startswith("speech")]
    coughs = [name for name in clips if name.startswith("cough")]
    passes = []
    for _ in range(2):
        background = negative_stream(speech * 4, clips.__getitem__, RATE_HZ, rng)
        passes.append(positive_stream(coughs, ["synth"] * 3, background, clips.__getitem__, rng,
                                      spacing_s=(2.0, 3.0), snr_db=(20.0, 20.0)))
    joined = concat_streams(passes)

    assert len(joined.audio) == sum(len(p.audio) for p in passes)
    assert len(joined.truth) == sum(len(p.truth) for p in passes) >= 4
    assert joined.truth_source == [s for p in passes for s in p.truth_source]
    assert joined.truth[: len(passes[0].truth)] == passes[0].truth
    offset = len(passes[0].audio)
    assert joined.truth[len(passes[0].truth):] == [(s + offset, e + offset) for s, e in passes[1].truth]
    for start, end in joined.truth:  # 20 dB above its background: the cough is there
        assert rms_db(joined.audio[start:end]) > rms_db(joined.audio[max(0, start - 8000):start]) + 3


def test_concat_of_negative_streams_has_no_truth() -> None:
    one = Stream(np.ones(10, np.float32), RATE_HZ)
    both = concat_streams([one, one])
    assert len(both.audio) == 20 and both.truth == [] and both.truth_source == []


def _burst_and_breath() -> np.ndarray:
    """2 s: a 200 ms burst at 0.5 and, 1 s later, a 300 ms "in-breath" 20 dB quieter."""
    rng = np.random.default_rng(7)
    audio = (1e-4 * rng.standard_normal(2 * RATE_HZ)).astype(np.float32)
    audio[1600:4800] += 0.5 * rng.standard_normal(3200).astype(np.float32)
    audio[20800:25600] += 0.05 * rng.standard_normal(4800).astype(np.float32)
    return audio


def test_bursts_leave_out_segments_far_below_the_peak() -> None:
    audio = _burst_and_breath()
    assert [round(s / 160) for s, _ in cough_segments(audio, RATE_HZ)] == [10, 130]
    assert [(round(s / 160), round(e / 160)) for s, e in cough_segments(audio, RATE_HZ, BURST_DB)] == [(10, 30)]


def test_positive_stream_inserts_the_burst_not_the_breath() -> None:
    rng = np.random.default_rng(1)
    background = Stream(np.zeros(60 * RATE_HZ, np.float32), RATE_HZ)
    clip = _burst_and_breath()
    stream = positive_stream(["c"] * 5, ["synth"] * 5, background, lambda _: clip, rng, spacing_s=(3.0, 4.0))
    assert len(stream.truth) == 5
    assert {e - s for s, e in stream.truth} == {3200}  # the 200 ms burst each time
