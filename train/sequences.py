"""Multi-second training sequences with per-window targets, for models with context.

Each item is a few seconds of stream built on the fly from training clips: non-cough
pieces back to back with random gains and gaps (speech, household sounds, throat clears,
breaths, room recordings around a cough), real room clips with their annotated cough in
place, and cough bursts (one burst, or a volley) mixed in at a random local SNR; then the
stream-wide augmentations (telephone band, gain, noise floor). Every window the monitor
would score (``window_samples`` every ``hop_samples``) gets a target:

* ``cough``: 1 when the window holds at least half of a cough (or :data:`POSITIVE_MIN_S`
  of it), 0 when it touches none, masked otherwise (a cough's edge in the window);
* ``aux``: what fills the window (:data:`train.context.AUX_LABELS`), -100 where masked.

Item ``i`` of epoch ``e`` draws its randomness from ``(seed, e, i)`` alone. All audio is
float32 mono at the model rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import torch
from torch.utils.data import Dataset

from train.augment import TELEPHONE_BAND_HZ, band_limit, coloured_noise
from train.context import AUX_LABELS
from train.streams import BURST_DB, NOISE_FLOOR_DBFS, cough_segments, rms_db

IGNORE: Final = -100
"""Target of a masked window (``torch.nn.CrossEntropyLoss``'s ignore index)."""
POSITIVE_MIN_S: Final = 0.25
"""A window holding this much of a cough is positive even when the cough is longer than twice it."""
EDGE_SLACK_S: Final = 0.03
"""A window this close to a cough (annotations and burst edges are not exact) is masked, not negative."""
FILL_MIN_S: Final = 0.2
"""A piece fills a window (its aux class) when it covers at least this much of it."""


@dataclass(frozen=True)
class Piece:
    """One training recording as the sequence builder uses it."""

    wave: np.ndarray
    """float16/32 ``[n]`` mono at the model rate."""
    aux: int
    """Index into :data:`~train.context.AUX_LABELS` of what it is."""
    coughs: tuple[tuple[int, int], ...] = ()
    """Annotated cough spans (start, end samples) inside it; a cough clip without annotation
    has none and is cut into bursts by energy instead."""


@dataclass(frozen=True)
class SequenceSettings:
    """How training sequences are drawn (ranges uniform, inclusive)."""

    seconds: float = 6.0
    """Length of one sequence."""
    cough_probability: float = 0.6
    """Chance a sequence has coughs mixed in (1..``max_coughs``)."""
    max_coughs: int = 2
    room_probability: float = 0.15
    """Chance each background piece is a room clip with its own annotated cough."""
    volley_probability: float = 0.3
    """Chance a mixed-in cough is a crop of up to :attr:`volley_s` of its recording (all its
    bursts) rather than one burst."""
    volley_s: float = 1.5
    snr_db: tuple[float, float] = (-5.0, 20.0)
    """Cough-to-local-background power ratio, dB."""
    gap_s: tuple[float, float] = (0.0, 1.5)
    piece_max_s: float = 3.0
    """Longer background recordings contribute a random piece this long."""
    telephone_probability: float = 0.2
    gain_db: tuple[float, float] = (-24.0, 6.0)
    noise_floor_dbfs: tuple[float, float] = (-75.0, -45.0)


@dataclass
class _Draft:
    audio: np.ndarray
    coughs: list[tuple[int, int]] = field(default_factory=list)
    fills: list[tuple[int, int, int]] = field(default_factory=list)
    """(start, end, aux index) of each background piece."""


class SequenceDataset(Dataset):
    """``n_items`` random sequences per epoch -> (audio float32 ``[samples]``, cough target
    float32 ``[windows]``, cough mask float32 ``[windows]``, aux target int64 ``[windows]``)."""

    def __init__(self, background: Sequence[Piece], room: Sequence[Piece], coughs: Sequence[Piece],
                 settings: SequenceSettings, sample_rate: int, window_samples: int, hop_samples: int,
                 n_items: int, seed: int) -> None:
        if not background or not coughs:
            raise ValueError("sequences need background pieces and cough pieces")
        self.background, self.room, self.coughs = list(background), list(room), list(coughs)
        self.settings = settings
        self.sample_rate, self.window_samples, self.hop_samples = sample_rate, window_samples, hop_samples
        windows = (int(settings.seconds * sample_rate) - window_samples) // hop_samples + 1
        self.samples = window_samples + (windows - 1) * hop_samples
        self.n_items, self.seed, self.epoch = n_items, seed, 0
        self._bursts = [None if p.coughs else cough_segments(p.wave.astype(np.float32), sample_rate, BURST_DB)
                        for p in self.coughs]

    def set_epoch(self, epoch: int) -> None:
        """Draw fresh sequences for ``epoch``."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n_items

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        draft = self._background(rng)
        if rng.random() < self.settings.cough_probability:
            for _ in range(int(rng.integers(1, self.settings.max_coughs + 1))):
                self._mix_cough(draft, rng)
        audio = self._finish(draft.audio, rng)
        cough, mask, aux = window_targets(draft, self.samples, self.window_samples, self.hop_samples,
                                          self.sample_rate)
        return (torch.from_numpy(audio), torch.from_numpy(cough), torch.from_numpy(mask), torch.from_numpy(aux))

    def _background(self, rng: np.random.Generator) -> _Draft:
        s, rate = self.settings, self.sample_rate
        draft = _Draft(np.zeros(self.samples, np.float32))
        position = int(rng.uniform(0, s.gap_s[1]) * rate) - int(rng.uniform(0, s.piece_max_s) * rate)
        while position < self.samples:
            use_room = bool(self.room) and rng.random() < s.room_probability
            piece = self.room[int(rng.integers(len(self.room)))] if use_room else \
                self.background[int(rng.integers(len(self.background)))]
            wave, coughs = _crop(piece, int(s.piece_max_s * rate), rng)
            gain_db = rng.uniform(-20, 0) - max(rms_db(wave) + 20, 0)
            _add(draft.audio, wave * np.float32(10 ** (gain_db / 20)), position)
            draft.fills.append((position, position + len(wave), piece.aux))
            draft.coughs += [(position + a, position + b) for a, b in coughs]
            position += len(wave) + int(rng.uniform(*s.gap_s) * rate)
        return draft

    def _mix_cough(self, draft: _Draft, rng: np.random.Generator) -> None:
        s, rate = self.settings, self.sample_rate
        index = int(rng.integers(len(self.coughs)))
        burst, spans = self._cough(index, rng)
        if burst is None or len(burst) >= self.samples:
            return
        position = int(rng.integers(0, self.samples - len(burst)))
        if any(position - rate // 2 < b and a < position + len(burst) + rate // 2 for a, b in draft.coughs):
            return  # keep mixed-in coughs apart from the others
        local_db = max(rms_db(draft.audio[position:position + len(burst)]), NOISE_FLOOR_DBFS[0])
        gain_db = local_db + rng.uniform(*s.snr_db) - rms_db(burst)
        _add(draft.audio, burst * np.float32(10 ** (gain_db / 20)), position)
        draft.coughs += [(position + a, position + b) for a, b in spans]

    def _cough(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray | None, list[tuple[int, int]]]:
        """(audio to mix in, its cough spans) from cough piece ``index``."""
        piece = self.coughs[index]
        wave = piece.wave.astype(np.float32)
        if piece.coughs:  # an annotated cough: exactly its span
            a, b = piece.coughs[0]
            return wave[a:b], [(0, b - a)]
        bursts = self._bursts[index]
        if not bursts:
            return None, []
        if rng.random() < self.settings.volley_probability:
            first = bursts[int(rng.integers(len(bursts)))][0]
            end = first + int(self.settings.volley_s * self.sample_rate)
            inside = [(a - first, min(b, end) - first) for a, b in bursts if a >= first and a < end]
            return wave[first:end], inside
        a, b = bursts[int(rng.integers(len(bursts)))]
        return wave[a:b], [(0, b - a)]

    def _finish(self, audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        s = self.settings
        if rng.random() < s.telephone_probability:
            audio = band_limit(audio, self.sample_rate, *TELEPHONE_BAND_HZ)
        audio = audio * np.float32(10 ** (rng.uniform(*s.gain_db) / 20))
        audio += coloured_noise(len(audio), rng.uniform(*s.noise_floor_dbfs), rng)
        return np.clip(audio, -1.0, 1.0).astype(np.float32)


def _crop(piece: Piece, max_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """A random piece of at most ``max_samples`` (float32) and the cough spans inside it; a room
    clip is never cut through its cough (it is kept whole)."""
    wave = piece.wave.astype(np.float32)
    if len(wave) <= max_samples or piece.coughs:
        return wave, list(piece.coughs)
    start = int(rng.integers(0, len(wave) - max_samples + 1))
    return wave[start:start + max_samples], []


def _add(audio: np.ndarray, piece: np.ndarray, position: int) -> None:
    """``audio[position:position + len(piece)] += piece``, clipped to ``audio``'s bounds."""
    a, b = max(0, position), min(len(audio), position + len(piece))
    if a < b:
        audio[a:b] += piece[a - position:b - position]


def window_targets(draft: _Draft, samples: int, window_samples: int, hop_samples: int,
                   sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cough float32 ``[W]``, mask float32 ``[W]``, aux int64 ``[W]``) for the windows of a
    ``samples``-long sequence (see the module docstring)."""
    starts = np.arange(0, samples - window_samples + 1, hop_samples)
    ends = starts + window_samples
    cough = np.zeros(len(starts), np.float32)
    mask = np.ones(len(starts), np.float32)
    slack, minimum = int(EDGE_SLACK_S * sample_rate), int(POSITIVE_MIN_S * sample_rate)
    for a, b in draft.coughs:
        inside = np.clip(np.minimum(ends, b) - np.maximum(starts, a), 0, None)
        positive = inside >= min(max(1, (b - a) // 2), minimum)
        near = (np.minimum(ends, b + slack) - np.maximum(starts, a - slack)) > 0
        cough[positive] = 1.0
        mask[near & ~positive] = 0.0
    mask[cough == 1.0] = 1.0
    aux = np.full(len(starts), AUX_LABELS.index("other"), np.int64)
    best = np.zeros(len(starts), np.int64)
    for a, b, label in draft.fills:
        cover = np.clip(np.minimum(ends, b) - np.maximum(starts, a), 0, None)
        take = (cover > best) & (cover >= FILL_MIN_S * sample_rate)
        aux[take], best[take] = label, cover[take]
    aux[cough == 1.0] = AUX_LABELS.index("cough")
    aux[mask == 0.0] = IGNORE
    return cough, mask, aux


def aux_class(dataset: str, category: str, label: str) -> int:
    """The :data:`~train.context.AUX_LABELS` index of a clip from its manifest columns."""
    text = f"{dataset}/{category}".lower()
    if label == "cough":
        return AUX_LABELS.index("cough")
    if "noise" in category.lower():
        return AUX_LABELS.index("other")
    for name, words in _AUX_WORDS:
        if any(word in text for word in words):
            return AUX_LABELS.index(name)
    return AUX_LABELS.index("other")


_AUX_WORDS: Final = (
    ("throat_clear", ("throat",)),
    ("sneeze", ("sneez",)),
    ("laugh", ("laugh",)),
    ("breathing", ("breath", "expiration", "exhale", "inhale", "snor", "sigh", "sniff")),
    ("speech", ("speech_commands", "fsdd", "counting", "vowel", "around a cough", "umm", "hmm", "ahem",
                "humming", "crying")),
)
"""Substrings of ``dataset/category`` naming each auxiliary class, first match wins."""
