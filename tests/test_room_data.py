"""amicough-style room data: split, training clips, room streams, and the recipe's room figures.

The folder is generated here (the real amicough is not in a fresh clone): meeting series of
speech-like clips, some with a cough annotated about 1 s in, each event on a headset and an
"array" microphone (the array with DC offset and rumble, as the real one has).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from train.recipes import default_model, room
from train.recipes.clip_eval import Loader
from train.synth import cough_burst, speech_like, write_dataset

RATE_HZ = 16000
COLUMNS = ("path", "label", "dataset", "category", "group", "mic", "event_start_s", "event_end_s")


def write_room_set(folder: Path, n_series: int = 6, coughs_per_series: int = 2, others_per_series: int = 3,
                   seed: int = 0) -> Path:
    """A synthetic amicough folder (manifest.csv + audio/); returns the folder."""
    rng = np.random.default_rng(seed)
    rows = []
    index = 0
    for series in range(n_series):
        for k in range(coughs_per_series + others_per_series):
            cough = k < coughs_per_series
            clip = 0.3 * speech_like(rng, 2.5)
            start = int(1.0 * RATE_HZ)
            event = cough_burst(rng) if cough else 0.5 * speech_like(rng, 0.3)
            clip[start:start + len(event)] += event
            end = start + len(event)
            for mic in room.MICS:
                audio = clip if mic == "headset" else clip * 0.5 + 0.05 + 0.02 * np.sin(
                    2 * np.pi * 20 * np.arange(len(clip)) / RATE_HZ)
                rel = f"audio/{mic}/{index}.wav"
                (folder / "audio" / mic).mkdir(parents=True, exist_ok=True)
                soundfile.write(str(folder / rel), audio.astype(np.float32), RATE_HZ, subtype="FLOAT")
                rows.append((rel, "cough" if cough else "non_cough", "ami_meetings",
                             "cough_dry" if cough else "throat clear", f"S{series:02d}", mic,
                             f"{start / RATE_HZ:.4f}", f"{end / RATE_HZ:.4f}"))
            index += 1
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return folder


@pytest.fixture
def room_set(tmp_path: Path) -> Path:
    return write_room_set(tmp_path / "amicough")


def test_split_keeps_a_series_and_both_microphones_on_one_side(room_set: Path) -> None:
    clips = room.load_room_clips(room_set)
    train, val = room.split_room(clips, seed=0)
    assert len(train) + len(val) == len(clips)
    assert {c.group for c in train}.isdisjoint({c.group for c in val})
    assert {c.label for c in val} == {"cough", "non_cough"}
    for part in (train, val):  # every event on both microphones
        assert sorted(Path(c.rel_path).name for c in part if c.extra["mic"] == "headset") == \
            sorted(Path(c.rel_path).name for c in part if c.extra["mic"] == "array")


def test_training_clips_cut_coughs_to_their_event_and_keep_the_room_around_as_negatives(
        room_set: Path, tmp_path: Path) -> None:
    clips = room.load_room_clips(room_set)
    made = room.room_training_clips(clips, Loader(RATE_HZ, None), RATE_HZ, tmp_path / "out")
    coughs = [c for c in made if c.label == "cough"]
    around = [c for c in made if c.extra["category"] == room.AROUND_CATEGORY]
    others = [c for c in made if c.extra["category"] == "throat clear"]
    source_coughs = [c for c in clips if c.label == "cough"]
    assert len(coughs) == len(source_coughs) and len(others) == sum(c.label != "cough" for c in clips)
    assert len(around) == 2 * len(source_coughs)  # before and after each cough
    assert all(c.label == "non_cough" for c in around)
    for made_clip, source in zip(coughs, source_coughs, strict=True):
        event = float(source.extra["event_end_s"]) - float(source.extra["event_start_s"])
        duration = soundfile.info(str(made_clip.path)).duration
        assert duration == pytest.approx(event + 2 * room.EVENT_MARGIN_S, abs=2 / RATE_HZ)
        assert made_clip.group == source.group
    array = next(c for c in others if c.extra["mic"] == "array")
    audio, _ = soundfile.read(str(array.path))
    assert abs(float(np.mean(audio))) < 1e-3  # DC (0.05) high-passed away


def test_room_streams_put_the_truth_on_the_annotated_coughs(room_set: Path) -> None:
    clips = room.load_room_clips(room_set)
    streams = room.room_streams(clips, Loader(RATE_HZ, None), RATE_HZ)
    assert set(streams) == set(room.MICS)
    for mic, stream in streams.items():
        mine = [c for c in clips if c.extra["mic"] == mic]
        assert len(stream.played) == len(mine)
        assert len(stream.truth) == sum(c.label == "cough" for c in mine)
        for (start, end), (clip_start, _, path) in zip(
                stream.truth, [p for p, c in zip(stream.played, mine, strict=True) if c.label == "cough"], strict=True):
            clip = next(c for c in mine if str(c.path) == path)
            assert start - clip_start == int(float(clip.extra["event_start_s"]) * RATE_HZ)
            burst = stream.audio[start:end]
            before = stream.audio[start - (end - start):start]
            assert np.sqrt(np.mean(burst**2)) > 2 * np.sqrt(np.mean(before**2))
    categories = room.room_categories(clips)
    assert set(categories.values()) == {"ami_meetings/throat clear", f"ami_meetings/{room.AROUND_CATEGORY}"}


def test_recipe_judges_every_model_on_the_room_streams_too(room_set: Path, tmp_path: Path) -> None:
    from monitor.scoring.modelfile import default_model_path

    write_dataset(tmp_path / "data", n_clips=60, seed=5)
    out = tmp_path / "out"
    rc = default_model.main(["--data", str(tmp_path / "data"), "--out", str(out), "--room", str(room_set),
                             "--judge", str(default_model_path())])
    assert rc == 0
    result = json.loads((out / "report.json").read_text())["default"]
    rooms = result["room_streams"]
    assert set(rooms) == set(room.MICS)
    for figures in rooms.values():
        assert figures["coughs"] > 0 and 0.0 <= figures["recall"] <= 1.0
        traced = sum(v["false_alarms"] for v in figures["false_alarms_by_category"].values())
        assert traced == figures["false_alarms"]
    text = (out / "report.md").read_text()
    assert "## Room streams" in text and "| default | headset |" in text and "| default | array |" in text
