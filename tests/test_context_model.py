"""The context model (``ctx``): causal state carried hop to hop, in torch, in ONNX and in the monitor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from fx_export import make_checkpoint, save_run

pytestmark = pytest.mark.train
torch = pytest.importorskip("torch")

HOP = 4000
WINDOW = 16000


@pytest.fixture(scope="module")
def ctx_checkpoint():  # noqa: ANN201 - a train.models.Checkpoint
    checkpoint = make_checkpoint("ctx", "binary", seed=3)
    with torch.no_grad():  # make the context matter: a strong, non-zero causal stage
        for name, value in checkpoint.state_dict.items():
            if name.startswith("body.context") or name.startswith("body.context_out"):
                value.copy_(torch.randn_like(value) * 0.2)
    return checkpoint


@pytest.fixture(scope="module")
def ctx_onnx(tmp_path_factory: pytest.TempPathFactory, ctx_checkpoint) -> Path:
    from export.pipeline import run_export
    from export.settings import ExportSettings

    root = tmp_path_factory.mktemp("ctx")
    out = root / "ctx.onnx"
    run_export(ExportSettings(run=save_run(root / "run", ctx_checkpoint), out=out, card=False))
    return out


def _stream(seconds: float, seed: int = 0) -> np.ndarray:
    from train import synth

    rng = np.random.default_rng(seed)
    audio = 0.01 * rng.standard_normal(int(seconds * 16000)).astype(np.float32)
    for start in np.arange(1.0, seconds - 1.0, 2.7):
        burst = synth.positive_clip(rng, 0.4, 16000)
        at = int(start * 16000)
        audio[at:at + len(burst)] += burst
    return np.clip(audio, -1, 1)


def test_torch_sequence_is_causal_and_chunk_invariant(ctx_checkpoint) -> None:
    net = ctx_checkpoint.build()
    audio = torch.from_numpy(_stream(5.0))[None, :]
    whole, _, state = net.sequence(audio, net.body.context.initial_state(1))
    pieces, carried = [], net.body.context.initial_state(1)
    for cut in ((0, 7), (7, 8), (8, 17)):  # windows [first, last)
        run = audio[:, cut[0] * HOP:(cut[1] - 1) * HOP + WINDOW]
        logits, _, carried = net.sequence(run, carried)
        pieces.append(logits)
    assert torch.allclose(torch.cat(pieces, dim=1), whole[:, :17], rtol=1e-4, atol=1e-4)
    # causal: changing the audio after window 10 leaves windows 0..10 alone
    changed = audio.clone()
    changed[:, 10 * HOP + WINDOW:] = 0.5
    again, _, _ = net.sequence(changed, net.body.context.initial_state(1))
    assert torch.equal(again[:, :11], whole[:, :11])
    assert not torch.allclose(again[:, 12:], whole[:, 12:], atol=1e-3)


def test_context_changes_scores(ctx_checkpoint) -> None:
    """The same window scores differently after different pasts (the state is used)."""
    net = ctx_checkpoint.build().requires_grad_(False)
    window = torch.from_numpy(_stream(1.0, seed=1))[None, :]
    fresh, _, _ = net.sequence(window, net.body.context.initial_state(1))
    _, _, busy = net.sequence(torch.from_numpy(_stream(4.0, seed=2))[None, :], net.body.context.initial_state(1))
    after, _, _ = net.sequence(window, busy)
    assert abs(float(fresh[0, 0, 0]) - float(after[0, 0, 0])) > 1e-3


def test_export_has_state_io_and_metadata(ctx_onnx: Path, ctx_checkpoint) -> None:
    from monitor.scoring.modelfile import load_model

    model = load_model(ctx_onnx)
    state_size = ctx_checkpoint.build().body.context.state_size
    assert model.info.state_size == state_size > 0
    assert model.info.run_hop_samples == HOP
    assert [i.name for i in model.session.get_inputs()] == ["waveform", "state"]
    assert {o.name for o in model.session.get_outputs()} == {"scores", "state_out"}


def test_monitor_scorer_matches_torch_however_the_stream_is_cut(ctx_onnx: Path, ctx_checkpoint) -> None:
    from monitor.scoring.modelfile import load_model
    from monitor.scoring.scorer import Scorer

    audio = _stream(6.0)
    windows = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(audio, WINDOW)[::HOP])
    net = ctx_checkpoint.build()
    with torch.no_grad():
        logits, _, _ = net.sequence(torch.from_numpy(audio[: (len(windows) - 1) * HOP + WINDOW])[None],
                                    net.body.context.initial_state(1))
    reference = torch.sigmoid(logits[0, :, 0]).numpy()
    scorer = Scorer(load_model(ctx_onnx))
    for sizes in ((len(windows),), (1,) * len(windows), (3, 1, 10, len(windows))):
        scorer.reset()
        got, at = [], 0
        for size in sizes:
            if at < len(windows):
                got.append(scorer.score_consecutive(windows[at:at + size], HOP)[:, 0])
                at += size
        assert np.abs(np.concatenate(got) - reference).max() < 1e-4, sizes
    with pytest.raises(ValueError, match="4000 samples apart"):
        scorer.score_consecutive(windows[:2], 2000)


def _replay(model: Path, wavs: list[Path], *args: str) -> tuple[list[dict], list[str]]:
    out = subprocess.run([sys.executable, "-m", "monitor.cli", "replay", *map(str, wavs), "--model", str(model),
                          "--threshold", "0.5", "--start-time", "2026-01-01T00:00:00Z", *args],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()], out.stderr.splitlines()


@pytest.mark.slow
def test_replay_is_batch_invariant_and_each_file_starts_fresh(ctx_onnx: Path, tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    soundfile.write(str(wav), _stream(12.0), 16000, subtype="FLOAT")
    scores = {}
    for batch in ("1", "5", "64"):
        csv = tmp_path / f"scores{batch}.csv"
        _replay(ctx_onnx, [wav], "--batch", batch, "--scores-out", str(csv))
        scores[batch] = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=-1)
    assert len(scores["1"]) == (12 * 16000 - WINDOW) // HOP + 1
    assert np.abs(scores["1"] - scores["5"]).max() < 1e-5
    assert np.abs(scores["1"] - scores["64"]).max() < 1e-5
    # the same file twice in one replay: the second scores as the first (state reset per file)
    both = tmp_path / "both.csv"
    _replay(ctx_onnx, [wav, wav], "--scores-out", str(both))
    twice = np.loadtxt(both, delimiter=",", skiprows=1, usecols=-1)
    assert np.abs(twice[: len(twice) // 2] - twice[len(twice) // 2:]).max() < 1e-5


def test_wrong_hop_is_one_line_error(ctx_onnx: Path, tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    soundfile.write(str(wav), _stream(3.0), 16000, subtype="FLOAT")
    out = subprocess.run([sys.executable, "-m", "monitor.cli", "replay", str(wav), "--model", str(ctx_onnx),
                          "--hop-ms", "125"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "context model" in out.stderr and "250 ms" in out.stderr
    assert "Traceback" not in out.stderr


def test_recipe_install_ships_the_first_preset_as_coughwatch_default(ctx_checkpoint, tmp_path: Path) -> None:
    from monitor.scoring.modelfile import load_model
    from train.recipes import attribution

    out, repo = tmp_path / "out", tmp_path / "repo"
    save_run(out / "ctx", ctx_checkpoint)
    (out / "report.md").write_text("# report\n")
    (out / "DATA_LICENSES.md").write_text("# licences\n")
    attribution.install(out, repo, "ctx")
    shipped = load_model(repo / "monitor" / "models" / "default.onnx")
    assert shipped.info.name == attribution.SHIPPED_NAME == "coughwatch-default"
    assert shipped.info.state_size > 0 and shipped.info.preset == "ctx"
    assert (repo / "monitor" / "models" / "default.onnx.md").is_file()
    assert (repo / "monitor" / "models" / "default_report.md").read_text() == "# report\n"
    assert (repo / "DATA_LICENSES.md").read_text() == "# licences\n"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_cough_train_preset_ctx_trains_on_sequences_and_exports_with_state(tmp_path: Path) -> None:
    from train.synth import write_dataset

    manifest = write_dataset(tmp_path / "data", n_clips=24, seed=2)
    run = tmp_path / "runs" / "mine"
    env = {**__import__("os").environ, "PYTHONPATH": str(Path.cwd())}
    out = subprocess.run([sys.executable, "-m", "train.cli", "--manifest", str(manifest), "--out", str(run),
                          "--preset", "ctx", "--epochs", "1", "--workers", "0"],
                         capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr
    assert "context model" in out.stdout and (run / "model.pt").is_file()
    exported = subprocess.run([sys.executable, "-m", "export.cli", str(run), "--out", str(tmp_path / "m.onnx")],
                              capture_output=True, text=True, timeout=600, env=env)
    assert exported.returncode == 0, exported.stderr
    from monitor.scoring.modelfile import load_model

    model = load_model(tmp_path / "m.onnx")
    assert model.info.state_size > 0 and model.info.name == "mine"
    bad = subprocess.run([sys.executable, "-m", "train.cli", "--manifest", str(manifest), "--out",
                          str(tmp_path / "r2"), "--preset", "ctx", "--task", "regression"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode != 0 and "--task binary" in bad.stderr and "Traceback" not in bad.stderr
