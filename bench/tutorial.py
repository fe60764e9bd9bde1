"""The tutorial's data pipeline, written as the tutorial writes it, for comparison only.

"Audio Classification and Regression using PyTorch" prepares every item inside
``Dataset.__getitem__``, every epoch: load the file, move it to the device,
build a ``torchaudio.transforms.Resample`` and resample, mix down, cut,
right-pad, then run the mel transform on that single item. (The tutorial calls
``torchaudio.load``; it needs TorchCodec + FFmpeg here, so soundfile decodes,
which is at least as fast.) The mel transform is this project's ``LogMel`` so
that both pipelines train the very same network on the very same features.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio
from torch.utils.data import Dataset

from train.features import LogMel


class TutorialDataset(Dataset):
    """Items: (log-mel float32 ``[1, n_mels, n_frames]`` on ``device``, target float32 ``[1]``)."""

    def __init__(self, paths: Sequence[Path], targets: np.ndarray, transformation: LogMel,
                 target_sample_rate: int, num_samples: int, device: torch.device) -> None:
        self.paths = list(paths)
        self.targets = targets
        self.device = device
        self.transformation = transformation.to(device)
        self.target_sample_rate = target_sample_rate
        self.num_samples = num_samples

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        data, sr = soundfile.read(str(self.paths[index]), dtype="float32", always_2d=True)
        signal = torch.from_numpy(data.T.copy()).to(self.device)  # [channels, samples]
        signal = self._resample_if_necessary(signal, sr)
        signal = self._mix_down_if_necessary(signal)
        signal = self._cut_if_necessary(signal)
        signal = self._right_pad_if_necessary(signal)
        features = self.transformation(signal)[0]  # LogMel: [1, n] -> [1, 1, mels, frames]
        return features, torch.tensor([float(self.targets[index])], dtype=torch.float32)

    def _resample_if_necessary(self, signal: torch.Tensor, sr: int) -> torch.Tensor:
        if sr != self.target_sample_rate:
            resampler = torchaudio.transforms.Resample(sr, self.target_sample_rate).to(self.device)
            signal = resampler(signal)
        return signal

    def _mix_down_if_necessary(self, signal: torch.Tensor) -> torch.Tensor:
        if signal.shape[0] > 1:
            signal = torch.mean(signal, dim=0, keepdim=True)
        return signal

    def _cut_if_necessary(self, signal: torch.Tensor) -> torch.Tensor:
        if signal.shape[1] > self.num_samples:
            signal = signal[:, : self.num_samples]
        return signal

    def _right_pad_if_necessary(self, signal: torch.Tensor) -> torch.Tensor:
        length_signal = signal.shape[1]
        if length_signal < self.num_samples:
            signal = torch.nn.functional.pad(signal, (0, self.num_samples - length_signal))
        return signal
