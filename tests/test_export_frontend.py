"""The ONNX front end (export.frontend.MatmulLogMel) computes torchaudio's log-mel."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import pytest
import torch

from export.frontend import MatmulLogMel, fft_factors
from train.features import FeatureSpec, LogMel
from train.models import SEED_SPEC

SPECS = {
    "default": FeatureSpec(),
    "seed (raw power, 22.05 kHz, n_fft 1024)": SEED_SPEC,
    "seed-log": replace(SEED_SPEC, log=True),
    "n_fft 400, hop 160": FeatureSpec(n_fft=400, hop_length=160),
    "hop longer than n_fft": FeatureSpec(n_fft=256, hop_length=320),
    "prime n_fft (plain DFT)": FeatureSpec(n_fft=257, hop_length=128, window_samples=4000),
}


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_same_features_as_torchaudio(spec: FeatureSpec):
    """The export parity gate's criteria: mel power within 1e-5 of each window's peak,
    log-mel within 1e-4 on bins within 40 dB of the peak (float32 rounding apart)."""
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(spec.window_samples) / spec.sample_rate
    waveforms = torch.stack([
        0.1 * torch.randn(spec.window_samples, generator=generator),
        0.5 * torch.sin(2 * torch.pi * 440.0 * t),
        torch.zeros(spec.window_samples),
    ])
    power_spec = replace(spec, log=False)
    with torch.no_grad():
        want = LogMel(power_spec)(waveforms)
        got = MatmulLogMel(LogMel(power_spec))(waveforms)
        want_log = LogMel(spec)(waveforms)
        got_log = MatmulLogMel(LogMel(spec))(waveforms)
    assert got.shape == want.shape == got_log.shape == (3, 1, spec.n_mels, spec.n_frames)
    peak = want.amax(dim=(1, 2, 3), keepdim=True)
    assert ((got - want).abs() <= 1e-5 * peak + 1e-12).all()
    if spec.log:
        loud = want >= peak * 1e-4
        assert ((got_log - want_log).abs()[loud] < 1e-4).all()


def test_fft_factors_are_closest_pair():
    assert fft_factors(512) == (16, 32)
    assert fft_factors(1024) == (32, 32)
    assert fft_factors(400) == (20, 20)
    assert fft_factors(257) == (1, 257)


def test_exported_graph_has_no_stft_kernel(default_onnx):
    ops = {node.op_type for node in onnx.load(str(default_onnx)).graph.node}
    assert "STFT" not in ops and "DFT" not in ops
    assert "MatMul" in ops


def test_silence_stays_finite():
    frontend = MatmulLogMel(LogMel(FeatureSpec()))
    out = frontend(torch.zeros(2, 16000)).numpy()
    np.testing.assert_allclose(out, np.log(1e-6), atol=1e-6)


def test_center_false_over_a_longer_chunk_matches_torchaudio():
    """Runs of windows frame a whole run without centre padding (any multiple of the hop)."""
    reference = LogMel(replace(FeatureSpec(), log=False, center=False)).eval()
    fixed = MatmulLogMel(reference, n_samples=3 * 16000 + 512).eval()
    any_length = MatmulLogMel(reference).eval()
    any_length.any_length = True
    waveforms = 0.1 * torch.randn(2, 3 * 16000 + 640, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = reference(waveforms)
        got_fixed, got_any = fixed(waveforms[:, : 3 * 16000 + 512]), any_length(waveforms)
    assert got_fixed.shape == got_any.shape == want.shape == (2, 1, 64, 151)
    assert ((got_fixed - want).abs() <= 1e-5 * want.amax()).all()
    assert ((got_any - want).abs() <= 1e-5 * want.amax()).all()
