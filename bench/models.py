"""The models the suite measures: the shipped default when present, else random-weight exports.

``default`` is ``monitor/models/default.onnx`` when the package ships it (a
trained model); until then it is the ``default`` preset exported with random
weights whose batch-norm statistics are calibrated on synthetic audio, so that
scores spread over (0, 1) instead of saturating. ``seed`` is always the
tutorial preset with random weights (the project ships no trained seed), ``fast``
the ``fast`` preset with random weights (the cheaper network whose graph shares
frames across a run of windows), ``ctx`` the context model with random weights (``fast``'s
trunk plus a causal stage whose state the scorer carries). ``python -m bench --default-model
FILE`` (:data:`DEFAULT_MODEL_ENV`) measures FILE as the default: a candidate before it ships.
``energy`` is the torch-free energy detector of ``tests/fx_models.py``: a
model that really fires on the synthetic coughs (for the live path).
Speed does not depend on the weights; detection figures do, so every row
names the model it used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

from bench.testhelpers import fixture_module
from monitor.scoring.modelfile import default_model_path

if TYPE_CHECKING:  # torch only where a model is exported
    from train.models import Checkpoint, CoughNet

log = logging.getLogger(__name__)

CALIBRATION_WINDOWS: Final = 64
CALIBRATION_SEED: Final = 5


@dataclass(frozen=True)
class BenchModel:
    """One ONNX file and how to name it in the table."""

    key: str
    """'default', 'seed', 'fast', 'ctx' or 'energy'."""
    path: Path
    label: str
    """What the table says, e.g. 'default (random weights)'."""
    trained: bool


DEFAULT_MODEL_ENV: Final = "BENCH_DEFAULT_MODEL"
"""A model file to measure as ``default`` instead of the shipped one."""
RANDOM_PRESETS: Final = ("default", "seed", "fast", "ctx")


def shipped_default() -> Path | None:
    """The file named by :data:`DEFAULT_MODEL_ENV`, else ``monitor/models/default.onnx`` when it exists."""
    import os

    path = Path(os.environ.get(DEFAULT_MODEL_ENV) or default_model_path())
    return path if path.is_file() else None


def prepare(keys: list[str], work_dir: Path) -> dict[str, BenchModel]:
    """Write or locate each model in ``keys`` ('default', 'seed', 'fast', 'ctx', 'energy') under ``work_dir``."""
    models: dict[str, BenchModel] = {}
    for key in keys:
        if key == "default" and shipped_default() is not None:
            path = shipped_default()
            label = "default (shipped default.onnx)" if path == default_model_path() else f"default ({path.name})"
            models[key] = BenchModel(key, path, label, True)
        elif key in RANDOM_PRESETS:
            path = work_dir / f"{key}-random.onnx"
            if not path.is_file():
                export_random(key, path)
            models[key] = BenchModel(key, path, f"{key} (random weights)", False)
        elif key == "energy":
            path = work_dir / "energy.onnx"
            if not path.is_file():
                energy_model_maker()(path)
            models[key] = BenchModel(key, path, "energy test model (tests/fx_models.py)", False)
        else:
            raise ValueError(f"unknown model {key!r}")
    return models


def random_checkpoint(preset: str, seed: int = 0) -> Checkpoint:
    """A binary ``preset`` network with random weights (batch norm calibrated), as a Checkpoint."""
    import torch

    from train.models import Checkpoint, build_model, preset_config

    torch.manual_seed(seed)
    config = preset_config(preset, "binary", 1)
    net = build_model(config)
    _calibrate_batch_norm(net, config.spec.sample_rate, config.spec.window_samples)
    return Checkpoint(config, ["cough"], ["cough"], net.state_dict(), threshold=0.5,
                      extra={"model_name": f"bench-{preset}-random"})


def export_random(preset: str, path: Path) -> None:
    """Export :func:`random_checkpoint` of ``preset`` to ``path`` (one ONNX file, metadata inside)."""
    from export.onnx_export import export_onnx

    log.info("exporting a random-weight %s model to %s", preset, path)
    export_onnx(random_checkpoint(preset), path)


def _calibrate_batch_norm(net: CoughNet, sample_rate: int, window_samples: int) -> None:
    """Running mean/var of every BatchNorm from synthetic coughs and negatives (no weight change)."""
    import torch

    from train.synth import negative_clip, positive_clip

    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        net.eval()
        return
    rng = np.random.default_rng(CALIBRATION_SEED)
    duration_s = window_samples / sample_rate
    clips = [positive_clip(rng, duration_s, sample_rate) if i % 2 else
             negative_clip(rng, duration_s, sample_rate) for i in range(CALIBRATION_WINDOWS)]
    batch = torch.from_numpy(np.stack([c[:window_samples] for c in clips]))
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the calibration batch
    net.train()
    with torch.no_grad():
        net(batch)
    net.eval()


def energy_model_maker() -> Callable[..., Path]:
    """``tests/fx_models.make_energy_model``."""
    return fixture_module("fx_models").make_energy_model
