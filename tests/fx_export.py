"""Fixtures for export tests: checkpoints with random weights, run folders, exported files.

The fixtures need the ``[train]`` extra (torch, torchaudio, onnx); it is imported
inside them, so registering this module costs nothing for monitor-only runs.
Audio is generated (``train.synth``) and written as wav in temp dirs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import soundfile

from train import synth

if TYPE_CHECKING:
    from train.models import Checkpoint

LABELS = {
    "binary": (["cough"], ["cough"]),
    "regression": (["cough"], ["cough"]),
    "multiclass": (["cough", "non_cough", "speech"], ["cough"]),
}
FAKE_MANIFEST_SHA = "5e" * 32


def make_checkpoint(preset: str = "default", task: str = "binary", seed: int = 0,
                    extra: dict[str, Any] | None = None,
                    spec_overrides: dict[str, Any] | None = None) -> Checkpoint:
    """A checkpoint with random (seeded) weights and typical provenance."""
    import torch

    from train.models import Checkpoint, build_model, preset_config

    labels, events = LABELS[task]
    config = preset_config(preset, task, len(labels), **(spec_overrides or {}))
    torch.manual_seed(seed)
    net = build_model(config)
    with torch.no_grad():  # non-trivial BN statistics, so eval mode differs from train mode
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    provenance = {"manifest_sha256": FAKE_MANIFEST_SHA, "seed": seed, "command": "cough-train --test",
                  "torch_version": str(torch.__version__), "torchaudio_version": "2.11.0", "n_train": 10}
    return Checkpoint(config, labels, events, net.state_dict(), threshold=0.37,
                      metrics={"roc_auc": 0.93, "threshold": 0.37}, extra={**provenance, **(extra or {})})


def write_clips(folder: Path, sample_rate: int, n_each: int, seed: int = 5) -> list[dict[str, str]]:
    """``n_each`` synthetic coughs and non-coughs as wav; entries like ``cough-train`` records."""
    rng = np.random.default_rng(seed)
    entries = []
    for i in range(n_each):
        for label, audio in (("cough", synth.positive_clip(rng, 1.3, sample_rate)),
                             ("non_cough", synth.negative_clip(rng, 0.8, sample_rate))):
            rel = f"audio/{label}_{i}.wav"
            (folder / "audio").mkdir(parents=True, exist_ok=True)
            soundfile.write(str(folder / rel), audio, sample_rate, subtype="FLOAT")
            entries.append({"path": rel, "label": label, "file": str(folder / rel)})
    return entries


def save_run(run_dir: Path, checkpoint: Checkpoint) -> Path:
    """Write ``run_dir/model.pt`` as ``cough-train`` does; returns ``run_dir``."""
    import torch

    run_dir.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint.to_dict(), run_dir / "model.pt")
    return run_dir


@pytest.fixture(scope="session")
def default_checkpoint() -> Checkpoint:
    """default preset, binary, random weights."""
    return make_checkpoint("default", "binary")


@pytest.fixture(scope="session")
def default_onnx(tmp_path_factory: pytest.TempPathFactory, default_checkpoint: Checkpoint) -> Path:
    """``default_checkpoint`` exported once per session (with the provenance metadata)."""
    from export.metadata import export_metadata
    from export.onnx_export import export_onnx

    path = tmp_path_factory.mktemp("export") / "default.onnx"
    export_onnx(default_checkpoint, path, extra_metadata=export_metadata(default_checkpoint, 18))
    return path


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder (model.pt) whose checkpoint lists 6+6 validation wavs that exist."""
    root = tmp_path_factory.mktemp("run")
    entries = write_clips(root / "data", 16000, 6)
    for entry in entries:  # as recorded by cough-train: manifest-relative path + absolute file
        entry["file"] = str(root / "data" / entry["path"])
    extra = {"validation_clips": entries,
             "source": {"kind": "manifest", "path": str(root / "data" / "manifest.csv")},
             "data_attribution": [{"dataset": "synthetic", "license": "CC0"}]}
    return save_run(root / "runs" / "r1", make_checkpoint("default", "binary", extra=extra))
