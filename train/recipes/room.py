"""amicough: real meeting-room coughs and their look-alikes, for training and the room stream.

Every amicough clip holds one annotated vocal event (``event_start_s``..``event_end_s``, about
1 s in) with the room around it, twice: a headset mix and a far-field table microphone
(``mic``). This module turns it into

* training clips (:func:`room_training_clips`): each cough cut to its annotated event plus a
  little room on both sides (label ``cough``), the rest of a cough clip as room negatives
  (speech around a cough, category ``around a cough``), every non-cough clip whole (throat
  clears, breaths, ... with their speech);
* the **room validation streams** (:func:`room_streams`): the validation series' clips back to
  back, one stream per microphone, truth = the annotated coughs.

All audio is high-passed at :data:`HIGHPASS_HZ` (the table microphone carries DC and rumble).
The split keeps a meeting series (both microphones of every event) on one side.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np

from train.augment import band_limit
from train.data import Clip, load_manifest
from train.split import split_indices
from train.streams import Stream

log = logging.getLogger(__name__)

COUGH: Final = "cough"
MICS: Final = ("headset", "array")
HIGHPASS_HZ: Final = 50.0
"""Everything below is removed from amicough audio before use (the array's DC and rumble)."""
EVENT_MARGIN_S: Final = 0.15
"""Room kept on each side of an annotated cough in its training clip (annotations are tight)."""
AROUND_GAP_S: Final = 0.25
"""Left out between an annotated cough and the room negatives cut from its clip."""
AROUND_MIN_S: Final = 0.4
"""Shortest piece of a cough clip's surroundings kept as a room negative."""
AROUND_CATEGORY: Final = "around a cough"
"""Category of the room negatives cut from around a cough (mostly speech)."""
VAL_FRACTION: Final = 0.2


def load_room_clips(folder: Path) -> list[Clip]:
    """The amicough manifest as clips (label ``cough`` / ``non_cough``, ``extra`` = the other columns)."""
    return load_manifest(folder / "manifest.csv")


def split_room(clips: list[Clip], seed: int) -> tuple[list[Clip], list[Clip]]:
    """(train, validation): disjoint by meeting series (``group``), stratified by label."""
    labels = sorted({c.label for c in clips})
    strata = [labels.index(c.label) for c in clips]
    groups = [f"ami/{c.group}" for c in clips]
    train_idx, val_idx = split_indices(strata, groups, VAL_FRACTION, seed)
    return [clips[i] for i in train_idx], [clips[i] for i in val_idx]


def highpass(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """float32 ``wave`` with everything below :data:`HIGHPASS_HZ` removed."""
    return band_limit(wave, sample_rate, HIGHPASS_HZ, sample_rate / 2)


def event_span(clip: Clip, sample_rate: int, n_samples: int) -> tuple[int, int]:
    """The annotated event of ``clip`` as (start, end) samples, clamped to the clip."""
    start = int(float(clip.extra["event_start_s"]) * sample_rate)
    end = int(float(clip.extra["event_end_s"]) * sample_rate)
    return max(0, min(start, n_samples)), max(0, min(max(end, start + 1), n_samples))


def room_training_clips(clips: list[Clip], load: Callable[[str], np.ndarray], sample_rate: int,
                        out: Path) -> list[Clip]:
    """Training clips cut from amicough ``clips`` (see the module docstring), written as FLAC
    under ``out/room_train/`` at ``sample_rate``; each keeps its meeting series as group."""
    import soundfile

    folder = out / "room_train"
    folder.mkdir(parents=True, exist_ok=True)
    made: list[Clip] = []

    def write(name: str, audio: np.ndarray, source: Clip, label: str, category: str) -> None:
        path = folder / f"{name}.flac"
        soundfile.write(str(path), audio, sample_rate, subtype="PCM_16")
        extra = {**source.extra, "category": category}
        made.append(Clip(path.resolve(), label, source.group, f"room_train/{path.name}", extra))

    for clip in clips:
        wave = highpass(load(str(clip.path)), sample_rate)
        stem = f"{clip.extra.get('mic', 'mic')}_{Path(clip.rel_path).stem}"
        if clip.label != COUGH:
            write(stem, wave, clip, clip.label, clip.extra.get("category", "other"))
            continue
        start, end = event_span(clip, sample_rate, len(wave))
        margin, gap = int(EVENT_MARGIN_S * sample_rate), int(AROUND_GAP_S * sample_rate)
        write(stem, wave[max(0, start - margin):end + margin], clip, COUGH, clip.extra.get("category", COUGH))
        for side, piece in (("before", wave[:max(0, start - gap)]), ("after", wave[end + gap:])):
            if len(piece) >= AROUND_MIN_S * sample_rate:
                write(f"{stem}_{side}", piece, clip, "non_cough", AROUND_CATEGORY)
    log.info("room training clips: %d (%d coughs) from %d amicough clips", len(made),
             sum(c.label == COUGH for c in made), len(clips))
    return made


def room_streams(clips: list[Clip], load: Callable[[str], np.ndarray], sample_rate: int) -> dict[str, Stream]:
    """One stream per microphone: ``clips`` of that mic back to back (manifest order, high-passed),
    truth = their annotated coughs (``truth_source`` = category), ``played`` = every clip."""
    streams = {}
    for mic in MICS:
        pieces: list[np.ndarray] = []
        truth: list[tuple[int, int]] = []
        sources: list[str] = []
        played: list[tuple[int, int, str]] = []
        position = 0
        for clip in (c for c in clips if c.extra.get("mic") == mic):
            wave = highpass(load(str(clip.path)), sample_rate)
            if clip.label == COUGH:
                start, end = event_span(clip, sample_rate, len(wave))
                truth.append((position + start, position + end))
                sources.append(f"ami_meetings/{clip.extra.get('category', COUGH)}")
            played.append((position, position + len(wave), str(clip.path)))
            pieces.append(wave)
            position += len(wave)
        if pieces:
            streams[mic] = Stream(np.concatenate(pieces).astype(np.float32), sample_rate, truth, sources, played)
    return streams


def room_categories(clips: list[Clip]) -> dict[str, str]:
    """path -> the category a false alarm on that clip is counted under (``throat clear``, ...;
    a cough clip's room outside its annotated event is :data:`AROUND_CATEGORY`)."""
    return {str(c.path): f"ami_meetings/{AROUND_CATEGORY if c.label == COUGH else c.extra.get('category', '?')}"
            for c in clips}
