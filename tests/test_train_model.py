"""The front end and the presets: LogMel equals torchaudio's MelSpectrogram + log; seed shapes."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torchaudio

from train.features import FeatureSpec, LogMel
from train.models import (
    PRESETS,
    ModelConfig,
    ScoringModel,
    build_model,
    preset_config,
    stream_positions,
)
from train.summary import layer_rows, summary_text

pytestmark = pytest.mark.train


def test_logmel_equals_torchaudio_melspectrogram_plus_log():
    spec = FeatureSpec()
    wave = torch.randn(3, spec.window_samples) * 0.1
    reference = torchaudio.transforms.MelSpectrogram(
        sample_rate=spec.sample_rate, n_fft=spec.n_fft, hop_length=spec.hop_length, n_mels=spec.n_mels,
        f_min=spec.f_min, f_max=spec.f_max, power=2.0,
    )(wave)
    expected = torch.log(reference + spec.log_offset).unsqueeze(1)
    out = LogMel(spec)(wave)
    assert out.shape == (3, 1, spec.n_mels, spec.n_frames)
    torch.testing.assert_close(out, expected)


def test_logmel_scores_a_window_alone_as_inside_a_batch():
    spec = FeatureSpec()
    wave = torch.randn(4, spec.window_samples)
    batch = LogMel(spec)(wave)
    torch.testing.assert_close(LogMel(spec)(wave[2:3]), batch[2:3])  # no per-batch scaling


def test_seed_preset_shapes_match_the_tutorial():
    config = preset_config("seed", "regression", 1)
    spec = config.spec
    assert (spec.sample_rate, spec.window_samples, spec.n_fft, spec.hop_length, spec.n_mels) == (
        22050, 22050, 1024, 512, 64)
    net = build_model(config)
    rows = {r.name: r.output_shape for r in layer_rows(net, torch.zeros(1, 22050))}
    assert rows["frontend"] == (1, 1, 64, 44)
    assert rows["body.conv.0"] == (1, 16, 66, 46)
    assert ScoringModel(net.eval())(torch.zeros(2, 22050)).shape == (2, 1)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_maps_waveforms_to_probabilities(preset):
    config = preset_config(preset, "multiclass", 3)
    scores = ScoringModel(build_model(config).eval())(torch.randn(2, config.spec.window_samples) * 0.1)
    assert scores.shape == (2, 3)
    torch.testing.assert_close(scores.sum(dim=1), torch.ones(2))


def test_summary_lists_layers_shapes_and_parameter_total():
    config = preset_config("default", "binary", 1)
    net = build_model(config)
    text = summary_text(net, torch.zeros(1, config.spec.window_samples))
    total = sum(p.numel() for p in net.parameters())
    assert f"total parameters: {total:,}" in text
    spec = config.spec
    assert "Conv2d" in text and f"[1, {config.channels[0]}, {spec.n_mels}, {spec.n_frames}]" in text


def test_uncentred_frames_of_a_window_are_the_frames_of_its_recording():
    spec = FeatureSpec(hop_length=400, center=False)
    assert spec.n_frames == (spec.window_samples - spec.n_fft) // spec.hop_length + 1 == 39
    recording = torch.randn(1, spec.window_samples + 4000) * 0.1
    whole = LogMel(FeatureSpec(hop_length=400, center=False, window_samples=spec.window_samples + 4000))(recording)
    later = LogMel(spec)(recording[:, 4000:])  # the window 10 frames in
    assert later.shape == (1, 1, spec.n_mels, 39)
    torch.testing.assert_close(later, whole[..., 10:49])


def test_fast_preset_trunk_is_valid_in_time_and_level_invariant():
    config = preset_config("fast", "binary", 1)
    assert config.spec.n_frames == 62 and stream_positions(62) == 4 and stream_positions(62 + 8) == 5
    net = build_model(config).eval()
    mel = torch.randn(2, 1, config.spec.n_mels, 62 + 8 * 3)
    maps = net.body.trunk(mel)
    assert maps.shape == (2, config.channels[-1], 4 + 3)
    torch.testing.assert_close(net.body.trunk(mel[..., 16:16 + 62]), maps[..., 2:6])  # a window's positions
    torch.testing.assert_close(net.body.trunk(mel + 7.0), maps, atol=1e-5, rtol=1e-5)  # a gain change


def test_stream_cnn_refuses_features_it_cannot_share():
    config = preset_config("fast", "binary", 1)
    for spec in (replace(config.spec, center=True), replace(config.spec, normalize="window_mean"),
                 replace(config.spec, window_samples=4000)):
        with pytest.raises(ValueError, match="stream_cnn"):
            replace(config, spec=spec)
    with pytest.raises(ValueError, match="hop_fraction"):
        ModelConfig("x", "bn_cnn", config.spec, (8,), hop_fraction=0.0)
