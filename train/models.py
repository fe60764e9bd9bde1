"""Networks: the tutorial's seed CNN and the stronger default, behind one config.

Every model is ``LogMel`` + a body and maps waveforms ``[batch, window_samples]``
(float32, mono, at ``spec.sample_rate``) to logits ``[batch, n_outputs]``.
:class:`ScoringModel` adds the output activation (sigmoid or softmax); it is
what ``export`` writes to ONNX and what ``predict`` runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final

import torch
from torch import nn

from train.features import FeatureSpec, LogMel, WindowNorm

TASKS: Final = ("binary", "regression", "multiclass")
ARCHITECTURES: Final = ("seed_cnn", "bn_cnn")


@dataclass(frozen=True)
class ModelConfig:
    """What is needed to rebuild a model (stored in every checkpoint)."""

    preset: str
    """Preset name this config came from (``seed``, ``seed-log``, ``default``)."""
    architecture: str
    """One of :data:`ARCHITECTURES`."""
    spec: FeatureSpec
    channels: tuple[int, ...]
    """Output channels of the conv blocks, in order."""
    task: str = "binary"
    n_outputs: int = 1
    """1 for binary/regression (sigmoid), number of classes for multiclass (softmax)."""
    dropout: float = 0.2

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, not {self.task!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (for checkpoints and metadata)."""
        data = asdict(self)
        data["channels"] = list(self.channels)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`."""
        fields = dict(data)
        fields["spec"] = FeatureSpec(**fields["spec"])
        fields["channels"] = tuple(fields["channels"])
        return cls(**fields)


SEED_SPEC: Final = FeatureSpec(
    sample_rate=22050, window_samples=22050, n_fft=1024, hop_length=512, n_mels=64,
    f_min=0.0, f_max=11025.0, log=False,
)
"""The tutorial exactly: 22050 Hz, first 1 s, n_fft 1024, hop 512, 64 mels, raw power."""

FAST_SPEC: Final = FeatureSpec(
    sample_rate=16000, window_samples=16000, n_fft=512, hop_length=400, n_mels=40,
    normalize="window_mean", center=False,
)
"""The ``fast`` preset's front end: 1 s windows of 39 uncentred frames (32 ms every 25 ms),
40 mels. Uncentred frames and a 0.25 s hop of 10 frames let the exported graph score a
run of overlapping windows from one pass of frames (``export.window_runs``)."""

PRESETS: Final[dict[str, ModelConfig]] = {
    "seed": ModelConfig("seed", "seed_cnn", SEED_SPEC, (16, 32, 64, 128), dropout=0.0),
    "seed-log": ModelConfig(
        "seed-log", "seed_cnn", replace(SEED_SPEC, log=True), (16, 32, 64, 128), dropout=0.0
    ),
    "default": ModelConfig(
        "default", "bn_cnn", FeatureSpec(normalize="window_mean"), (24, 32, 48, 64), dropout=0.2
    ),
    "fast": ModelConfig("fast", "bn_cnn", FAST_SPEC, (16, 32, 48, 64), dropout=0.2),
}
"""``default`` is the bundled model's recipe. ``fast`` trades detection for replay speed: ~4x
fewer multiply-adds in the network and frames shared across windows (replay ~2.8x faster
on one core), at a measured cost in event recall (README, "The default model")."""


def preset_config(name: str, task: str, n_outputs: int, **spec_overrides: Any) -> ModelConfig:
    """A preset's config for ``task`` with ``n_outputs`` columns and optional spec changes."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    base = PRESETS[name]
    spec = replace(base.spec, **spec_overrides) if spec_overrides else base.spec
    return replace(base, task=task, n_outputs=n_outputs, spec=spec)


class SeedBody(nn.Module):
    """The tutorial's CNN: 4 x [Conv2d(k3, s1, p2) + ReLU + MaxPool2d(2)], flatten, 2 linears.

    Input ``[batch, 1, n_mels, n_frames]``; for the seed spec (64 x 44) the first
    conv gives 16 x 66 x 46 and the flatten 128 x 5 x 4.
    """

    def __init__(self, channels: tuple[int, ...], n_mels: int, n_frames: int, n_outputs: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        in_ch = 1
        for out_ch in channels:
            blocks += [nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=1, padding=2), nn.ReLU(), nn.MaxPool2d(2)]
            in_ch = out_ch
        self.conv = nn.Sequential(*blocks)
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, 1, n_mels, n_frames)).numel()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, 128), nn.ReLU(), nn.Linear(128, n_outputs))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(features))


class BnBody(nn.Module):
    """Batch-norm CNN with global pooling: blocks of Conv3x3+BN+ReLU+MaxPool2d(2),
    then mean over frequency, mean+max over time, dropout and one linear.

    Global pooling makes the score shift-tolerant inside the window and keeps the
    parameter count small (~50 k for the default channels).
    """

    def __init__(self, channels: tuple[int, ...], n_outputs: int, dropout: float) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.BatchNorm2d(1)]
        in_ch = 1
        for out_ch in channels:
            blocks += [
                nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(out_ch),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            in_ch = out_ch
        self.conv = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(2 * in_ch, n_outputs)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        maps = self.conv(features).mean(dim=2)  # [batch, channels, time]
        pooled = torch.cat([maps.mean(dim=-1), maps.amax(dim=-1)], dim=1)
        return self.linear(self.dropout(pooled))


class CoughNet(nn.Module):
    """``LogMel`` front end + ``WindowNorm`` + body:
    waveform ``[batch, window_samples]`` -> logits ``[batch, n_outputs]``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        spec = config.spec
        self.frontend = LogMel(spec)
        self.norm = WindowNorm(spec)
        if config.architecture == "seed_cnn":
            self.body: nn.Module = SeedBody(config.channels, spec.n_mels, spec.n_frames, config.n_outputs)
        else:
            self.body = BnBody(config.channels, config.n_outputs, config.dropout)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.body(self.norm(self.frontend(waveform)))


class ScoringModel(nn.Module):
    """``CoughNet`` + output activation: waveform -> probabilities ``[batch, n_outputs]``.

    Sigmoid for ``binary`` and ``regression``, softmax for ``multiclass``.
    """

    def __init__(self, net: CoughNet) -> None:
        super().__init__()
        self.net = net
        self.softmax = net.config.task == "multiclass"

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        logits = self.net(waveform)
        return torch.softmax(logits, dim=-1) if self.softmax else torch.sigmoid(logits)


def build_model(config: ModelConfig) -> CoughNet:
    """A freshly initialised network for ``config``."""
    return CoughNet(config)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameter count."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass
class Checkpoint:
    """What ``runs/NAME/model.pt`` holds (saved with ``torch.save`` of :meth:`to_dict`)."""

    config: ModelConfig
    labels: list[str]
    """Output column names (binary/regression: ``['cough']``)."""
    event_labels: list[str]
    """Columns that produce events in the monitor."""
    state_dict: dict[str, torch.Tensor]
    threshold: float = 0.5
    """Decision threshold chosen on validation."""
    metrics: dict[str, Any] = field(default_factory=dict)
    """Validation metrics of the saved epoch."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Provenance: manifest sha256, seed, command, epoch, versions, validation clip list."""

    def to_dict(self) -> dict[str, Any]:
        """Serialisable form (tensors + plain Python only)."""
        return {
            "format": "coughwatch-checkpoint-1",
            "config": self.config.to_dict(),
            "labels": list(self.labels),
            "event_labels": list(self.event_labels),
            "state_dict": self.state_dict,
            "threshold": float(self.threshold),
            "metrics": self.metrics,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` on a foreign file."""
        if data.get("format") != "coughwatch-checkpoint-1":
            raise ValueError("not a coughwatch checkpoint")
        return cls(
            config=ModelConfig.from_dict(data["config"]),
            labels=list(data["labels"]),
            event_labels=list(data["event_labels"]),
            state_dict=data["state_dict"],
            threshold=float(data["threshold"]),
            metrics=dict(data.get("metrics", {})),
            extra=dict(data.get("extra", {})),
        )

    def build(self) -> CoughNet:
        """The network with the saved weights, in eval mode."""
        net = build_model(self.config)
        net.load_state_dict(self.state_dict)
        return net.eval()
