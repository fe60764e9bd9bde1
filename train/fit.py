"""The optimisation loop: epochs, validation, early stopping, Ctrl-C.

The network's mel front end runs in float32 on the device; on CUDA the body
runs under float16 autocast with a gradient scaler, and batches come from
pinned memory. Shuffling is seeded, so CPU runs repeat exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from tqdm import tqdm

from train.dataset import TrainWindows
from train.evaluation import selection_key, task_metrics
from train.labels import LabelScheme
from train.models import CoughNet

log = logging.getLogger(__name__)

EVAL_BATCH: Final = 256
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class FitSettings:
    """Optimisation settings (validated by :class:`train.settings.TrainSettings`)."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    patience: int
    """Stop after this many epochs without a better validation score."""
    device: torch.device
    workers: int
    """DataLoader worker processes (0 = load in the main process)."""
    seed: int
    regression_loss: str = "bce"
    """'bce' (soft targets on the logit) or 'mse' (on the sigmoid, the tutorial)."""
    ema_decay: float = 0.0
    """Validate and keep an exponential moving average of the weights (batch-norm statistics
    included), updated after every step with this decay; 0 = the raw weights."""
    keep: str = "best"
    """'best': the epoch with the best validation score, stopping after ``patience`` epochs
    without one; 'last': every epoch runs and the final weights are kept (the end of the
    cosine schedule), whatever the validation score."""


@dataclass
class EpochRecord:
    """One row of ``history.csv``."""

    epoch: int
    train_loss: float
    val_loss: float
    metrics: dict[str, Any]
    seconds: float
    lr: float


@dataclass
class FitResult:
    """Outcome of :func:`fit`: the best epoch's weights and metrics, the history."""

    best_state: dict[str, torch.Tensor]
    best_epoch: int
    best_metrics: dict[str, Any]
    best_probs: np.ndarray
    """Validation outputs ``[n_val, n_outputs]`` of the best epoch (for plots)."""
    history: list[EpochRecord] = field(default_factory=list)
    interrupted: bool = False
    stopped_early: bool = False


def make_loss(task: str, regression_loss: str) -> LossFn:
    """Loss on logits: BCE (binary), CE (multiclass), BCE-soft or MSE-on-sigmoid (regression).

    Soft-target BCE keeps its gradient where MSE on a saturated sigmoid loses it
    (measurements in :mod:`train.settings`).
    """
    if task == "multiclass":
        return nn.CrossEntropyLoss()
    if task == "regression" and regression_loss == "mse":
        mse = nn.MSELoss()
        return lambda logits, targets: mse(torch.sigmoid(logits), targets)
    return nn.BCEWithLogitsLoss()


def forward(net: CoughNet, waveform: torch.Tensor, amp: bool) -> torch.Tensor:
    """Logits float32 ``[batch, n_outputs]``; front end in float32, body under autocast when ``amp``."""
    features = net.norm(net.frontend(waveform))
    with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=amp):
        logits = net.body(features)
    return logits.float()


def activation(task: str, logits: torch.Tensor) -> torch.Tensor:
    """Probabilities from logits: softmax (multiclass) or sigmoid."""
    return torch.softmax(logits, dim=-1) if task == "multiclass" else torch.sigmoid(logits)


@torch.no_grad()
def validate(
    net: CoughNet, windows: torch.Tensor, targets: torch.Tensor, loss_fn: LossFn, task: str, amp: bool
) -> tuple[float, np.ndarray]:
    """(mean loss, probabilities ``[n, n_outputs]``) of the validation windows ``[n, window_samples]``."""
    net.eval()
    device = next(net.parameters()).device
    total, probs = 0.0, []
    for start in range(0, len(windows), EVAL_BATCH):
        batch = windows[start : start + EVAL_BATCH].to(device)
        target = targets[start : start + EVAL_BATCH].to(device)
        logits = forward(net, batch, amp)
        total += float(loss_fn(logits, target)) * len(batch)
        probs.append(activation(task, logits).cpu().numpy())
    return total / max(len(windows), 1), np.concatenate(probs).astype(np.float64)


def train_epoch(net: CoughNet, loader: DataLoader, loss_fn: LossFn, optimizer: torch.optim.Optimizer,
                scaler: torch.amp.GradScaler, amp: bool, desc: str,
                after_step: Callable[[], None] | None = None) -> float:
    """One pass over ``loader``, ``after_step`` called after each optimizer step; returns the
    mean training loss."""
    net.train()
    device = next(net.parameters()).device
    total, count = 0.0, 0
    bar = tqdm(loader, desc=desc, unit="batch", leave=False, disable=None)
    for waveform, target in bar:
        waveform = waveform.to(device, non_blocking=True)
        target = target.to(device, non_blocking=True)
        loss = loss_fn(forward(net, waveform, amp), target)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if after_step is not None:
            after_step()
        total += float(loss.detach()) * len(waveform)
        count += len(waveform)
        bar.set_postfix(loss=f"{total / count:.4f}")
    return total / max(count, 1)


def make_loader(dataset: TrainWindows, settings: FitSettings) -> DataLoader:
    """Seeded shuffling loader; pinned memory on CUDA."""
    generator = torch.Generator().manual_seed(settings.seed)
    return DataLoader(dataset, batch_size=settings.batch_size, shuffle=True, drop_last=False,
                      num_workers=settings.workers, pin_memory=settings.device.type == "cuda",
                      generator=generator)


class _Run:
    """The moving parts of one optimisation run (optimizer, schedule, scaler, data)."""

    def __init__(self, net: CoughNet, dataset: TrainWindows, val_windows: torch.Tensor,
                 val_targets: torch.Tensor, scheme: LabelScheme, settings: FitSettings) -> None:
        self.net = net.to(settings.device)
        self.dataset, self.val_windows, self.val_targets = dataset, val_windows, val_targets
        self.scheme, self.settings = scheme, settings
        self.amp = settings.device.type == "cuda"
        if self.amp:  # fixed input shapes: let cuDNN pick the fastest kernels (not bit-reproducible)
            torch.backends.cudnn.benchmark = True
        self.loss_fn = make_loss(scheme.task, settings.regression_loss)
        self.optimizer = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        self.schedule = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=settings.epochs)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.loader = make_loader(dataset, settings)
        self.ema = (AveragedModel(self.net, multi_avg_fn=get_ema_multi_avg_fn(settings.ema_decay), use_buffers=True)
                    if settings.ema_decay > 0 else None)

    @property
    def judged(self) -> nn.Module:
        """The network that is validated and kept: the weight average when there is one."""
        return self.net if self.ema is None else self.ema.module

    def epoch(self, epoch: int) -> tuple[EpochRecord, np.ndarray]:
        """Train one epoch, validate; (history row, validation probabilities)."""
        started = time.perf_counter()
        self.dataset.set_epoch(epoch)
        lr = self.optimizer.param_groups[0]["lr"]
        train_loss = train_epoch(self.net, self.loader, self.loss_fn, self.optimizer, self.scaler, self.amp,
                                 f"epoch {epoch}/{self.settings.epochs}",
                                 None if self.ema is None else lambda: self.ema.update_parameters(self.net))
        self.schedule.step()
        val_loss, probs, metrics = self.validate()
        return EpochRecord(epoch, train_loss, val_loss, metrics, time.perf_counter() - started, lr), probs

    def validate(self) -> tuple[float, np.ndarray, dict[str, Any]]:
        """(loss, probabilities, metrics) of the current weights on the validation windows."""
        val_loss, probs = validate(self.judged, self.val_windows, self.val_targets, self.loss_fn,
                                   self.scheme.task, self.amp)
        targets = self.val_targets.numpy().reshape(len(self.val_targets), -1)[:, 0]
        return val_loss, probs, task_metrics(self.scheme, targets, probs)

    def weights(self) -> dict[str, torch.Tensor]:
        """A CPU copy of the current weights."""
        return {k: v.detach().cpu().clone() for k, v in self.judged.state_dict().items()}


def fit(
    net: CoughNet,
    dataset: TrainWindows,
    val_windows: torch.Tensor,
    val_targets: torch.Tensor,
    scheme: LabelScheme,
    settings: FitSettings,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> FitResult:
    """Train ``net`` in place; keep the best epoch by :func:`selection_key`, stop after
    ``patience`` epochs without improvement (``settings.keep == "last"``: run every epoch
    and keep the last). Ctrl-C ends training and still returns the kept epoch so far (the
    current weights when no epoch has finished)."""
    run = _Run(net, dataset, val_windows, val_targets, scheme, settings)
    result: FitResult | None = None
    history: list[EpochRecord] = []
    best_key, stale = (-np.inf, -np.inf), 0
    try:
        for epoch in range(1, settings.epochs + 1):
            record, probs = run.epoch(epoch)
            history.append(record)
            _log_epoch(record, scheme.task)
            key = selection_key(scheme.task, record.metrics, record.val_loss)
            if result is None or key > best_key or settings.keep == "last":
                best_key, stale = key, 0
                result = FitResult(run.weights(), epoch, record.metrics, probs, history)
            else:
                stale += 1
            if on_epoch is not None:
                on_epoch(record)
            if stale >= settings.patience and settings.keep == "best":
                log.info("no better validation score for %d epochs: stopping early", stale)
                result.stopped_early = True
                break
    except KeyboardInterrupt:
        log.warning("interrupted: keeping the best epoch so far")
        if result is None:
            _, probs, metrics = run.validate()
            result = FitResult(run.weights(), 0, metrics, probs, history)
        result.interrupted = True
    assert result is not None  # settings guarantee epochs >= 1
    return result


def _log_epoch(record: EpochRecord, task: str) -> None:
    m = record.metrics
    extra = f"rmse {m['rmse']:.4f} r2 {m['r2']:.3f}" if task == "regression" else f"f1 {m['f1']:.3f}"
    log.info("epoch %d: train loss %.4f, val loss %.4f, val AUC %.4f AP %.4f %s (%.1f s)",
             record.epoch, record.train_loss, record.val_loss, m["roc_auc"], m["average_precision"],
             extra, record.seconds)
