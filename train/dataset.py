"""torch datasets of fixed-length waveforms: random windows for training, fixed ones for validation.

Items are float32 ``[window_samples]`` at the model rate; the mel front end runs
later, batched on the device, as the model's first layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from train.augment import Augmenter
from train.crop import energy_cdf, eval_window, train_window


class TrainWindows(Dataset):
    """Random training windows of in-memory waveforms, augmented when an :class:`Augmenter` is given.

    The randomness of item ``i`` in epoch ``e`` comes from ``(seed, e, i)``
    alone, so results do not depend on the number of DataLoader workers.
    """

    def __init__(
        self,
        waves: Sequence[np.ndarray],
        targets: np.ndarray,
        is_event: np.ndarray,
        window_samples: int,
        sample_rate: int,
        crop_policy: str,
        augmenter: Augmenter | None,
        seed: int,
    ) -> None:
        """``targets``: float32 ``[n]`` (binary/regression) or class indices; ``is_event``: bool ``[n]``."""
        self.waves = list(waves)
        self.targets = targets
        self.is_event = is_event
        self.window_samples = window_samples
        self.sample_rate = sample_rate
        self.crop_policy = crop_policy
        self.augmenter = augmenter
        self.seed = seed
        self.epoch = 0
        self.cdfs = [energy_cdf(w, sample_rate) for w in self.waves] if crop_policy == "energy" else None

    def set_epoch(self, epoch: int) -> None:
        """Draw a fresh set of crops and augmentations for ``epoch``."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        cdf = self.cdfs[index] if self.cdfs is not None else None
        window = train_window(self.waves[index], self.window_samples, self.sample_rate,
                              self.crop_policy, rng, shift=self.augmenter is not None, cdf=cdf)
        if self.augmenter is not None:
            window = self.augmenter(window, bool(self.is_event[index]), rng)
        return torch.from_numpy(window), target_tensor(self.targets[index])


def target_tensor(target: float | np.floating | np.integer) -> torch.Tensor:
    """float32 ``[1]`` for a float target, int64 scalar for a class index."""
    if isinstance(target, np.integer):
        return torch.tensor(int(target), dtype=torch.int64)
    return torch.tensor([float(target)], dtype=torch.float32)


def eval_batch(
    waves: Sequence[np.ndarray], window_samples: int, sample_rate: int, crop_policy: str
) -> torch.Tensor:
    """The deterministic validation windows, float32 ``[n, window_samples]``."""
    out = torch.empty(len(waves), window_samples, dtype=torch.float32)
    for i, wave in enumerate(waves):
        out[i] = torch.from_numpy(eval_window(wave, window_samples, sample_rate, crop_policy))
    return out
