"""Networks: the tutorial's seed CNN, the stronger default and the shareable ``fast`` one, behind one config.

Every model is ``LogMel`` + a body and maps waveforms ``[batch, window_samples]``
(float32, mono, at ``spec.sample_rate``) to logits ``[batch, n_outputs]``.
:class:`ScoringModel` adds the output activation (sigmoid or softmax); it is
what ``export`` writes to ONNX and what ``predict`` runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final

import torch
import torch.nn.functional as F
from torch import nn

from train.features import FeatureSpec, LogMel, WindowNorm

TASKS: Final = ("binary", "regression", "multiclass")
ARCHITECTURES: Final = ("seed_cnn", "bn_cnn", "stream_cnn", "stream_ctx")
STREAMING: Final = ("stream_cnn", "stream_ctx")
"""Architectures whose trunk runs once over a run of frames (:class:`StreamBody`)."""


STREAM_STRIDE_FRAMES: Final = 8
"""Frames between neighbouring time positions of :class:`StreamBody`'s feature map."""


def stream_positions(n_frames: int) -> int:
    """Time positions of :class:`StreamBody`'s feature map for ``n_frames`` input frames
    (each 3x3 convolution is valid in time, the first three pools halve it)."""
    for _ in range(3):
        n_frames = (n_frames - 2) // 2
    return n_frames - 2


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
    hop_fraction: float = 0.25
    """Hop between the windows the monitor scores, as a fraction of the window, for models
    that score runs (``export.window_runs.run_hop_samples`` rounds it down to whole frames,
    for ``stream_cnn`` to whole multiples of :data:`STREAM_STRIDE_FRAMES` frames, and
    writes it into the model file); other models are scored every quarter window."""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, not {self.task!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}")
        if not 0.0 < self.hop_fraction <= 1.0:
            raise ValueError(f"hop_fraction must be in (0, 1], not {self.hop_fraction}")
        if self.architecture in STREAMING:
            if self.spec.center or self.spec.normalize != "none" or len(self.channels) != 4:
                raise ValueError(f"{self.architecture} needs center=False framing, normalize='none' and 4 conv blocks")
            if stream_positions(self.spec.n_frames) < 1:
                raise ValueError(f"{self.architecture} needs more than {self.spec.n_frames} frames per window")
        if self.architecture == "stream_ctx" and (self.hop_fraction * self.spec.window_samples) % (
                STREAM_STRIDE_FRAMES * self.spec.hop_length):
            raise ValueError("stream_ctx scores windows a whole number of trunk positions apart: hop_fraction "
                             f"must make the hop a multiple of {STREAM_STRIDE_FRAMES} STFT hops")

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
    sample_rate=16000, window_samples=16000, n_fft=512, hop_length=250, n_mels=64, center=False,
)
"""The ``fast`` preset's front end: 1 s windows of 62 uncentred frames (32 ms every
15.625 ms, so 8 frames are exactly 0.125 s), 64 mels from 50 Hz to 8 kHz, no window
normalisation (the network's first layer is level-invariant instead)."""

PRESETS: Final[dict[str, ModelConfig]] = {
    "seed": ModelConfig("seed", "seed_cnn", SEED_SPEC, (16, 32, 64, 128), dropout=0.0),
    "seed-log": ModelConfig(
        "seed-log", "seed_cnn", replace(SEED_SPEC, log=True), (16, 32, 64, 128), dropout=0.0
    ),
    "default": ModelConfig(
        "default", "bn_cnn", FeatureSpec(normalize="window_mean"), (24, 32, 48, 64), dropout=0.2
    ),
    "fast": ModelConfig("fast", "stream_cnn", FAST_SPEC, (24, 32, 48, 64), dropout=0.2, hop_fraction=0.125),
    "ctx": ModelConfig("ctx", "stream_ctx", FAST_SPEC, (24, 32, 48, 64), dropout=0.2, hop_fraction=0.25),
}
"""``default`` is the bundled model's recipe. ``fast`` trades detection for replay speed and
onset latency: a :class:`StreamBody` whose frames and convolutions are computed once for
a run of windows, scored every 0.125 s (an hour of audio replays ~1.9x faster than with
``default``, at twice the windows), at a measured cost in event recall (docs/model.md, "Speed vs recall").
``ctx`` is ``fast``'s trunk with context across windows (:mod:`train.context`): a causal temporal
stage whose state the monitor carries from hop to hop; trained on multi-second sequences
(:mod:`train.sequences`), not on clips."""


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


def mean_max_over_time(maps: torch.Tensor) -> torch.Tensor:
    """Feature maps ``[rows, channels, time]`` -> ``[rows, 2 * channels]``: the mean over
    time, then the max (the global pooling of both batch-norm bodies)."""
    return torch.cat([maps.mean(dim=-1), maps.amax(dim=-1)], dim=1)


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
        return self.linear(self.dropout(mean_max_over_time(maps)))




class ZeroSumConv2d(nn.Conv2d):
    """``Conv2d`` whose every kernel is used minus its mean, so it sums to zero: adding a
    constant to the input (a gain change, in log-mel) leaves the output unchanged
    (up to zero padding; pad by replication to keep it exact at the edges)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight - self.weight.mean(dim=(1, 2, 3), keepdim=True)
        return self._conv_forward(x, weight, self.bias)


class StreamBody(nn.Module):
    """A CNN whose feature map over a long run of frames is the feature maps of its
    windows side by side, so overlapping windows can share one pass (``export.window_runs``).

    Conv3x3 + BN + ReLU, then 3 blocks of MaxPool(2) + Conv3x3 + BN + ReLU and a last
    MaxPool over frequency only. Convolutions are *valid* in time (no padding) and
    padded in frequency only, and three pools halve time, so feature position ``p``
    depends on frames ``[8 p, 8 p + 38)`` only: windows starting a multiple of 8 frames
    apart read the same positions (a 62-frame window has 4). The first convolution's
    kernels are forced to sum to zero and its frequency edges are padded by replication,
    so adding a constant to the log-mel (a gain change) leaves every later layer
    unchanged: level invariance without a per-window mean, which could not be shared.
    The head takes the mean over frequency, then mean + max over the window's time
    positions, dropout and one linear.

    Input ``[batch, 1, n_mels, n_frames]`` float32 log-mel; output logits ``[batch, n_outputs]``.
    """

    def __init__(self, channels: tuple[int, ...], n_outputs: int, dropout: float) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm2d(1)
        self.conv1 = ZeroSumConv2d(1, channels[0], kernel_size=3, bias=False)
        self.blocks = nn.ModuleList()
        in_ch = channels[0]
        self.norm1 = nn.BatchNorm2d(in_ch)
        for out_ch in channels[1:]:
            self.blocks.append(nn.Sequential(
                nn.MaxPool2d(2),
                nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=(1, 0), bias=False),
                nn.BatchNorm2d(out_ch),
                nn.ReLU(),
            ))
            in_ch = out_ch
        self.last_pool = nn.MaxPool2d((2, 1))
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(2 * in_ch, n_outputs)

    def trunk(self, features: torch.Tensor) -> torch.Tensor:
        """Log-mel ``[batch, 1, n_mels, n_frames]`` -> feature map ``[batch, channels, positions]``."""
        x = F.pad(self.input_norm(features), (0, 0, 1, 1), mode="replicate")
        x = torch.relu(self.norm1(self.conv1(x)))
        for block in self.blocks:
            x = block(x)
        return self.last_pool(x).mean(dim=2)

    def head(self, maps: torch.Tensor) -> torch.Tensor:
        """Feature maps ``[rows, channels, positions]`` of whole windows -> logits ``[rows, n_outputs]``."""
        return self.linear(self.dropout(mean_max_over_time(maps)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(features))


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
        elif config.architecture == "stream_cnn":
            self.body = StreamBody(config.channels, config.n_outputs, config.dropout)
        elif config.architecture == "stream_ctx":
            from train.context import ContextBody  # it builds on StreamBody, defined here

            hop_positions = round(config.hop_fraction * spec.window_samples) // (STREAM_STRIDE_FRAMES * spec.hop_length)
            self.body = ContextBody(config.channels, config.n_outputs, config.dropout, stream_positions(spec.n_frames),
                                    hop_positions)
        else:
            self.body = BnBody(config.channels, config.n_outputs, config.dropout)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.body(self.norm(self.frontend(waveform)))

    def sequence(self, waveform: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``stream_ctx`` only: a run of audio float32 ``[batch, window_samples + k * hop]`` and the
        state before it -> (logits ``[batch, k + 1, n_outputs]``, aux logits, state after it)."""
        return self.body.sequence(self.body.trunk(self.frontend(waveform)), state)


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
