"""Benchmark ``training``: clips per second per epoch, this project's data path vs the tutorial's.

Same network (the ``default`` preset), same clips (generated, 2-5 s, 44.1 kHz
WAV), same loop (``train.fit.train_epoch``), same batch size and device:

* project: clips decoded and resampled once into the waveform cache
  (``train.cache``), ``train.dataset.TrainWindows`` crops fixed-length windows
  (energy crop + augmentation, as ``cough-train`` trains the default; and once
  without augmentation), the log-mel runs batched on the device as the
  network's first layer;
* tutorial: :class:`bench.tutorial.TutorialDataset` decodes, resamples and
  computes the mel of each item inside ``__getitem__``, every epoch.

Epochs are interleaved (project, tutorial, project, ...). CUDA is used when present.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
from torch.utils.data import DataLoader

from bench.context import Context
from bench.measure import median
from bench.report import BenchResult
from bench.tutorial import TutorialDataset

log = logging.getLogger(__name__)

NAME: Final = "training"
PRESET: Final = "default"
CLIP_RATE_HZ: Final = 44100
CLIP_SECONDS: Final = (2.0, 5.0)
BATCH_SIZE: Final = 32
SEED: Final = 0
CPU_THREADS: Final = 1
"""torch threads on CPU (see the note the benchmark prints)."""
CONTENDED_CLIPS: Final = 64


def run(ctx: Context) -> BenchResult:
    """Median clips/s per epoch for each pipeline, and the ratios."""
    from train.data import load_manifest
    from train.settings import resolve_device
    from train.synth import write_dataset

    result = BenchResult(NAME)
    n_clips, epochs = int(ctx.pick(300, 48)), int(ctx.pick(3, 1))
    manifest = write_dataset(ctx.scratch("training-data"), n_clips, seed=SEED, sample_rate=CLIP_RATE_HZ,
                             duration_s=CLIP_SECONDS)
    clips = load_manifest(manifest)
    device = resolve_device("auto")
    default_threads = torch.get_num_threads()
    threads = CPU_THREADS if device.type == "cpu" else default_threads
    rate, cache_s = _measure(clips, device, epochs, threads)
    where = f"CPU, {threads} torch thread(s)" if device.type == "cpu" else f"{device.type}"
    result.add(f"training clips/s per epoch ({where}; {n_clips} clips of 2-5 s at 44.1 kHz, batch "
               f"{BATCH_SIZE}, median of {epochs} epochs)",
               "; ".join(f"{name}: {r:.0f}" for name, r in rate.items()), f"{PRESET} preset")
    result.add("project / tutorial clips/s ratio",
               f"{rate['project'] / rate['tutorial']:.1f}x (without augmentation "
               f"{rate['project, no augmentation'] / rate['tutorial']:.1f}x)", f"{PRESET} preset")
    result.add("project: one-time decode + resample into the waveform cache", f"{cache_s:.1f} s "
               f"({n_clips / cache_s:.0f} clips/s)", "")
    result.details.update(clips_per_s=rate, cache_s=cache_s, device=str(device), torch_threads=threads,
                          n_clips=n_clips, epochs=epochs)
    if device.type == "cpu" and default_threads != threads and not ctx.quick:
        subset = clips[:: max(1, len(clips) // CONTENDED_CLIPS)]
        contended, _ = _measure(subset, device, 1, default_threads)
        result.add(f"the same with torch's default {default_threads} threads ({len(subset)} clips, 1 epoch)",
                   "; ".join(f"{name}: {r:.0f}" for name, r in contended.items()), f"{PRESET} preset")
        result.details["default_threads"] = {"threads": default_threads, "clips_per_s": contended,
                                             "n_clips": len(subset)}
    result.notes.append(
        f"{threads} torch thread(s) on CPU because this 2-core machine is shared: with "
        "torch's default threads small ops wait for the busy second core (building one "
        "torchaudio Resample took ~128 ms instead of ~1 ms), which swamps both pipelines.")
    return result


def _measure(clips: list[Any], device: torch.device, epochs: int,
             threads: int) -> tuple[dict[str, float], float]:
    """clips/s per pipeline (median over interleaved epochs) and the one-time cache seconds."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        epoch_fns, cache_s = _pipelines(clips, device)
        seconds: dict[str, list[float]] = {name: [] for name in epoch_fns}
        for _ in range(epochs):
            for name, epoch in epoch_fns.items():
                began = time.perf_counter()
                epoch()
                seconds[name].append(time.perf_counter() - began)
    finally:
        torch.set_num_threads(previous)
    return {name: len(clips) / median(s) for name, s in seconds.items()}, cache_s


def _pipelines(clips: list[Any], device: torch.device) -> tuple[dict[str, Callable[[], float]], float]:
    """One epoch function per pipeline (each with its own copy of the same initial network)."""
    from train.cache import WaveformCache, load_all
    from train.errors import BadInputPolicy
    from train.labels import make_scheme
    from train.models import build_model, preset_config
    from train.settings import TrainSettings

    scheme = make_scheme("binary", [c.label for c in clips])
    targets = np.asarray([scheme.target(c.label) for c in clips], dtype=np.float32)
    config = preset_config(PRESET, "binary", 1)
    torch.manual_seed(SEED)
    net = build_model(config)
    settings = TrainSettings(out_dir=Path("unused"), preset=PRESET)
    began = time.perf_counter()
    waves = load_all(WaveformCache(config.spec.sample_rate, None), [c.path for c in clips],
                     BadInputPolicy(), threads=1, desc="decoding")
    cache_s = time.perf_counter() - began
    spec = config.spec
    tutorial_net = copy.deepcopy(net)
    tutorial_net.frontend = torch.nn.Identity()  # the dataset computes the mel
    tutorial = TutorialDataset([c.path for c in clips], targets, copy.deepcopy(net.frontend),
                               spec.sample_rate, spec.window_samples, device)
    fns = {
        "project": _epoch_fn(copy.deepcopy(net), _windows(waves, targets, scheme, spec, settings, True), device),
        "project, no augmentation": _epoch_fn(copy.deepcopy(net), _windows(waves, targets, scheme, spec,
                                                                         settings, False), device),
        "tutorial": _epoch_fn(tutorial_net, tutorial, device),
    }
    return fns, cache_s


def _windows(waves: list[Any], targets: Any, scheme: Any, spec: Any, settings: Any,
             augment: bool) -> torch.utils.data.Dataset:
    from train.augment import Augmenter
    from train.dataset import TrainWindows

    events = scheme.is_event(targets)
    backgrounds = [w for w, e in zip(waves, events, strict=True) if not e]
    augmenter = Augmenter(settings.augment_settings, spec.sample_rate, backgrounds) if augment else None
    crop = settings.crop_policy if augment else "first"
    return TrainWindows(waves, targets, events, spec.window_samples, spec.sample_rate, crop, augmenter, SEED)


def _epoch_fn(net: torch.nn.Module, dataset: torch.utils.data.Dataset,
              device: torch.device) -> Callable[[], float]:
    from train.fit import make_loss, train_epoch

    net = net.to(device)
    amp = device.type == "cuda"
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True,
                        generator=torch.Generator().manual_seed(SEED),
                        pin_memory=device.type == "cuda" and not isinstance(dataset, TutorialDataset))
    loss_fn = make_loss("binary", "bce")
    epoch = [0]

    def one_epoch() -> float:
        epoch[0] += 1
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch[0])
        return train_epoch(net, loader, loss_fn, optimizer, scaler, amp, "bench")

    return one_epoch
