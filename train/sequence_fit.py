"""Training a context model (``stream_ctx``) on multi-second sequences with per-window targets.

The loss is binary cross-entropy on the cough logit of every unmasked window, plus
:data:`AUX_WEIGHT` x cross-entropy of the auxiliary head (what else the sound is), plus, with
a teacher, :data:`DISTILL_WEIGHT` x binary cross-entropy against the teacher's soft cough
score of each window (distillation). AdamW with a cosine schedule; the last epoch is kept.
Writes ``model.pt`` (a :class:`~train.models.Checkpoint` that ``cough-export`` reads),
``history.csv`` and ``metrics.json`` into the run folder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
import torchaudio
from torch import nn
from torch.utils.data import DataLoader

from train.cache import WaveformCache
from train.data import Clip, clips_sha256
from train.errors import DataError
from train.models import Checkpoint, CoughNet, build_model, count_parameters, preset_config
from train.outputs import json_safe, save_checkpoint, write_json
from train.recipes.room import COUGH, event_span, highpass
from train.sequences import IGNORE, Piece, SequenceDataset, SequenceSettings, aux_class

log = logging.getLogger(__name__)

AUX_WEIGHT: Final = 0.3
"""Weight of the auxiliary (what-else-is-it) loss beside the cough loss."""
DISTILL_WEIGHT: Final = 0.5
"""Weight of the teacher's soft scores beside the hard targets, when there is a teacher."""

Teacher = Callable[[np.ndarray, int], np.ndarray]
"""(audio float32 ``[samples]``, hop samples) -> cough score float32 ``[windows]`` of every window."""


@dataclass(frozen=True)
class SequenceTrainSettings:
    """One context-model training run."""

    out_dir: Path
    preset: str = "ctx"
    epochs: int = 16
    sequences_per_epoch: int = 3000
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-2
    seed: int = 0
    workers: int = 1
    sequences: SequenceSettings = field(default_factory=SequenceSettings)
    cache_dir: Path | None = None
    provenance: dict[str, Any] = field(default_factory=dict)


class EnsembleTeacher:
    """A :data:`Teacher` of exported models: the mean of their cough scores for every window
    (onnxruntime, each window on its own as the monitor scores stateless models)."""

    def __init__(self, paths: Sequence[Path], threads: int = 1) -> None:
        from monitor.scoring.modelfile import load_model
        from monitor.scoring.scorer import Scorer

        self.scorers = [Scorer(load_model(path, threads=threads)) for path in paths]
        for scorer in self.scorers:
            if scorer.stateful:
                raise ValueError(f"{scorer.model.path}: a teacher must be a stateless model")
        self.window_samples = self.scorers[0].window_samples
        self.columns = [list(s.labels).index(s.model.info.event_labels[0]) for s in self.scorers]

    def __call__(self, audio: np.ndarray, hop_samples: int) -> np.ndarray:
        windows = np.lib.stride_tricks.sliding_window_view(audio, self.window_samples)[::hop_samples]
        windows = np.ascontiguousarray(windows, dtype=np.float32)
        scores = [scorer.score(windows)[:, column] for scorer, column in zip(self.scorers, self.columns, strict=True)]
        return np.mean(scores, axis=0).astype(np.float32)


def load_pieces(clips: Sequence[Clip], room_clips: Sequence[Clip], cache: WaveformCache
                ) -> tuple[list[Piece], list[Piece], list[Piece]]:
    """(background, room, coughs) pieces: coughset non-coughs and whole amicough non-coughs as
    background; amicough cough clips whole with their annotated cough (room), and both corpora's
    coughs to mix in (amicough's cut to the annotation)."""
    background, room, coughs = [], [], []
    for clip in clips:
        wave = cache.get(clip.path).astype(np.float16)
        extra = clip.extra
        piece = Piece(wave, aux_class(extra.get("dataset", ""), extra.get("category", ""), clip.label))
        (coughs if clip.label == COUGH else background).append(piece)
    for clip in room_clips:
        wave = highpass(cache.get(clip.path).astype(np.float32), cache.sample_rate)
        aux = aux_class("ami_meetings", clip.extra.get("category", ""), clip.label)
        if clip.label != COUGH:
            background.append(Piece(wave.astype(np.float16), aux))
            continue
        span = event_span(clip, cache.sample_rate, len(wave))
        room.append(Piece(wave.astype(np.float16), aux_class("ami_meetings", "around a cough", "x"), (span,)))
        coughs.append(Piece(wave.astype(np.float16), aux, (span,)))
    return background, room, coughs


def train_sequences(settings: SequenceTrainSettings, clips: Sequence[Clip], room_clips: Sequence[Clip] = (),
                    teacher: Teacher | None = None) -> Path:
    """Train ``settings.preset`` on sequences built from ``clips`` (coughset-like) and ``room_clips``
    (amicough); returns the run folder with ``model.pt``."""
    run_dir = settings.out_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    config = preset_config(settings.preset.removesuffix("-distilled"), "binary", 1)
    spec = config.spec
    cache = WaveformCache(spec.sample_rate, settings.cache_dir)
    background, room, coughs = load_pieces(clips, room_clips, cache)
    if not background or not coughs:
        raise DataError(f"a context model needs cough and non-cough clips ({len(coughs)} cough, "
                        f"{len(background)} other)")
    hop = round(config.hop_fraction * spec.window_samples)
    dataset = SequenceDataset(background, room, coughs, settings.sequences, spec.sample_rate,
                              spec.window_samples, hop, settings.sequences_per_epoch, settings.seed)
    log.info("sequences: %d background, %d room, %d cough pieces; %d x %.1f s per epoch", len(background),
             len(room), len(coughs), settings.sequences_per_epoch, settings.sequences.seconds)
    torch.manual_seed(settings.seed)
    net = build_model(config)
    log.info("%s: %d parameters", settings.preset, count_parameters(net))
    history = _fit(net, dataset, settings, hop, teacher, run_dir)
    checkpoint = Checkpoint(config, ["cough"], ["cough"], {k: v.detach().clone() for k, v in net.state_dict().items()},
                            extra=_provenance(settings, clips, room_clips, len(history)))
    save_checkpoint(checkpoint, run_dir)
    write_json({"preset": settings.preset, "epochs_run": len(history), "history": history,
                "distilled": teacher is not None, "parameters": count_parameters(net)}, run_dir / "metrics.json")
    return run_dir


def _fit(net: CoughNet, dataset: SequenceDataset, settings: SequenceTrainSettings, hop: int,
         teacher: Teacher | None, run_dir: Path) -> list[dict[str, float]]:
    optimizer = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    steps = settings.epochs * (len(dataset) // settings.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings.lr, total_steps=max(1, steps),
                                                   pct_start=0.1, anneal_strategy="cos")
    aux_loss = nn.CrossEntropyLoss(ignore_index=IGNORE)
    history: list[dict[str, float]] = []
    for epoch in range(settings.epochs):
        dataset.set_epoch(epoch)
        loader = DataLoader(dataset, batch_size=settings.batch_size, shuffle=False, drop_last=True,
                            num_workers=settings.workers, persistent_workers=False)
        net.train()
        started, total, batches = time.monotonic(), 0.0, 0
        for audio, cough, mask, aux in loader:
            state = net.body.context.initial_state(len(audio))
            logits, aux_logits, _ = net.sequence(audio, state)
            logits = logits[..., 0]
            loss = _masked_bce(logits, cough, mask)
            loss = loss + AUX_WEIGHT * aux_loss(aux_logits.reshape(-1, aux_logits.shape[-1]), aux.reshape(-1))
            if teacher is not None:
                soft = torch.from_numpy(np.stack([teacher(a, hop) for a in audio.numpy()]))
                loss = (1 - DISTILL_WEIGHT) * loss + DISTILL_WEIGHT * _masked_bce(logits, soft, torch.ones_like(soft))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total, batches = total + loss.item(), batches + 1
        record = {"epoch": epoch + 1, "train_loss": total / max(1, batches),
                  "seconds": time.monotonic() - started, "lr": float(schedule.get_last_lr()[0])}
        history.append(record)
        log.info("epoch %d/%d: loss %.4f (%.0f s)", epoch + 1, settings.epochs, record["train_loss"], record["seconds"])
        write_json({"history": history}, run_dir / "history.json")
    net.eval()
    return history


def _masked_bce(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    losses = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return (losses * mask).sum() / mask.sum().clamp(min=1.0)


def _provenance(settings: SequenceTrainSettings, clips: Sequence[Clip], room_clips: Sequence[Clip],
                epochs: int) -> dict[str, Any]:
    return json_safe({
        **settings.provenance,
        "seed": settings.seed,
        "epoch": epochs,
        "interrupted": False,
        "torch_version": str(torch.__version__),
        "torchaudio_version": str(torchaudio.__version__),
        "data_sha256": clips_sha256([*clips, *room_clips]),
        "n_train": len(clips) + len(room_clips),
        "data_counts": {"train": len(clips) + len(room_clips)},
        "training": "sequences",
        "sequences_per_epoch": settings.sequences_per_epoch,
        "sequence_s": settings.sequences.seconds,
    })
