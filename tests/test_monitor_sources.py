"""Audio sources: mix-down, resampling, block-size invariance, raw stdin, bad audio."""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import pytest
from fx_audio import write_audio

from monitor.audio.sources import FileSource, StdinSource
from monitor.errors import AudioInputError

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


def collect(source) -> tuple[list[int], np.ndarray]:
    starts, blocks = [], []
    for start, block in source.blocks():
        assert block.dtype == np.float32 and block.ndim == 1
        starts.append(start)
        blocks.append(block)
    return starts, np.concatenate(blocks)


def tone(freq_hz: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


def test_stereo_is_mixed_down_to_the_channel_mean(tmp_path):
    left = tone(440, 1.0, 16000)
    path = write_audio(tmp_path / "st.wav", np.stack([left, np.zeros_like(left)], axis=1), 16000)
    _, mono = collect(FileSource(path, 16000))
    np.testing.assert_allclose(mono, left / 2, atol=1e-7)


def test_resampling_keeps_duration_and_pitch(tmp_path):
    path = write_audio(tmp_path / "t.flac", tone(1000, 2.0, 44100), 44100, subtype="PCM_16")
    starts, mono = collect(FileSource(path, 16000, block_s=0.3))
    assert abs(len(mono) - 32000) <= 2
    assert dominant_hz(mono[1000:-1000], 16000) == pytest.approx(1000, abs=2)
    assert starts[0] == 0 and all(b > a for a, b in zip(starts, starts[1:], strict=False))


def test_output_does_not_depend_on_block_size(tmp_path):
    audio = np.random.default_rng(3).standard_normal((48000 * 3, 2)).astype(np.float32) * 0.1
    path = write_audio(tmp_path / "n.wav", audio, 48000)
    reference = collect(FileSource(path, 16000, block_s=5.0))[1]
    for block_s in (0.0013, 0.1, 0.77):
        np.testing.assert_array_equal(collect(FileSource(path, 16000, block_s=block_s))[1], reference)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_an_error_naming_file_and_time(tmp_path, bad):
    audio = np.zeros(16000 * 3, np.float32)
    audio[24000] = bad
    path = write_audio(tmp_path / "nan.wav", audio, 16000)
    with pytest.raises(AudioInputError, match=r"nan\.wav: non-finite sample .* at 1\.500 s"):
        collect(FileSource(path, 16000, block_s=0.25))


def test_empty_and_missing_and_corrupt_files(tmp_path):
    with pytest.raises(AudioInputError, match="no such file"):
        FileSource(tmp_path / "missing.wav", 16000)
    (tmp_path / "zero.wav").write_bytes(b"")
    with pytest.raises(AudioInputError, match="empty file"):
        FileSource(tmp_path / "zero.wav", 16000)
    empty = write_audio(tmp_path / "noframes.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioInputError, match="no audio"):
        collect(FileSource(empty, 16000))
    (tmp_path / "junk.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(AudioInputError, match="junk.wav"):
        collect(FileSource(tmp_path / "junk.wav", 16000))


@needs_ffmpeg
def test_formats_soundfile_cannot_read_go_through_ffmpeg(tmp_path):
    wav = write_audio(tmp_path / "src.wav", tone(500, 2.0, 22050), 22050, subtype="PCM_16")
    m4a = tmp_path / "clip.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    _, mono = collect(FileSource(m4a, 16000))
    assert abs(len(mono) - 32000) < 2000  # AAC adds priming samples
    assert dominant_hz(mono, 16000) == pytest.approx(500, abs=3)


@pytest.mark.parametrize("raw_format", ["s16le", "s32le", "f32le"])
def test_raw_stdin_formats_decode_to_the_same_audio(raw_format):
    audio = tone(300, 1.0, 8000) * 0.9
    stereo = np.stack([audio, audio], axis=1)
    encoded = {
        "s16le": (stereo * 32767).astype("<i2"),
        "s32le": (stereo * 2147483647).astype("<i4"),
        "f32le": stereo.astype("<f4"),
    }[raw_format].tobytes()
    source = StdinSource(raw_format, 8000, 2, 8000, block_s=0.07, stream=io.BytesIO(encoded))
    np.testing.assert_allclose(collect(source)[1], audio, atol=1e-4)


def test_truncated_stdin_yields_the_good_audio_then_fails():
    data = np.zeros(16000, "<i2").tobytes() + b"\x01"
    source = StdinSource("s16le", 16000, 1, 16000, block_s=0.5, stream=io.BytesIO(data))
    got = []
    with pytest.raises(AudioInputError, match="truncated stream: 1 trailing bytes"):
        for _, block in source.blocks():
            got.append(block)
    assert sum(len(b) for b in got) == 16000


@pytest.mark.parametrize(
    ("rate", "channels", "match"),
    [(0, 1, "not a usable sample rate"), (10**9, 1, "not a usable sample rate"),
     (16000, 0, "channels"), (16000, 1000, "channels")],
)  # fmt: skip
def test_absurd_stdin_parameters_are_rejected(rate, channels, match):
    with pytest.raises(AudioInputError, match=match):
        StdinSource("s16le", rate, channels, 16000, stream=io.BytesIO(b""))
