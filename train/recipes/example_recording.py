"""Build the bundled example recording ``monitor/examples/example.ogg`` from coughset.

    python -m train.recipes.example_recording --data ../shared/data/coughset

Only CC0 clips, all from the default model's *validation* side of the split (the
model never trained on them): three coughs from ``covid19_cough`` and two
household sounds from ESC-50 whose own licence is CC0, over a quiet noise floor.
Writes the recording, ``example.json`` (where the coughs and the non-cough
parts are, in seconds) and ``README.md`` with the credits.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Final

import numpy as np
import soundfile

from train.data import Clip, load_manifest
from train.recipes.clip_eval import Loader
from train.recipes.default_model import split_clips
from train.streams import cough_segments

SAMPLE_RATE: Final = 16000
HOUSEHOLD: Final = ("washing_machine", "pouring_water", "keyboard_typing", "door_wood_creaks",
                    "brushing_teeth", "vacuum_cleaner", "clock_tick", "water_drops")
OUT_DIR: Final = Path(__file__).resolve().parents[2] / "monitor" / "examples"


MIN_COUGH_S: Final = 0.3
"""A clear cough: the clip's longest energetic segment lasts at least this long."""


def pick(val: list[Clip], seed: int, load: Loader) -> tuple[list[Clip], list[Clip]]:
    """(three CC0 covid19 coughs with a clear segment, two CC0 ESC-50 household clips).

    Chosen by licence, source and segment length only (never by model score).
    """
    rng = np.random.default_rng(seed)
    coughs = [c for c in val if c.extra.get("dataset") == "covid19_cough" and c.label == "cough"
              and _longest_segment_s(load(str(c.path))) >= MIN_COUGH_S]
    sounds = [c for c in val if c.extra.get("dataset") == "esc50_16k" and c.extra.get("license", "").startswith("clip:CC0")
              and c.extra.get("category") in HOUSEHOLD]
    return ([coughs[i] for i in rng.permutation(len(coughs))[:3]],
            [sounds[i] for i in rng.permutation(len(sounds))[:2]])


def _longest_segment_s(wave: np.ndarray) -> float:
    segments = cough_segments(wave, SAMPLE_RATE)
    return max((e - s for s, e in segments), default=0) / SAMPLE_RATE


def compose(coughs: list[Clip], sounds: list[Clip], load: Loader, seed: int) -> tuple[np.ndarray, dict]:
    """sound, cough, sound, cough, cough over a -60 dBFS noise floor; returns audio and truth."""
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    truth: dict[str, list] = {"coughs": [], "non_cough": [], "sources": []}
    pos = 0

    def add(wave: np.ndarray, kind: str, clip: Clip) -> None:
        nonlocal pos
        gap = np.zeros(int((2.5 if kind == "coughs" else 1.0) * SAMPLE_RATE), np.float32)
        parts.extend([gap, wave])
        start = pos + len(gap)
        truth[kind].append([round(start / SAMPLE_RATE, 3), round((start + len(wave)) / SAMPLE_RATE, 3)])
        truth["sources"].append({"kind": kind, "path": clip.rel_path, "license": clip.extra.get("license"),
                                 "source": clip.extra.get("source"), "orig_file": clip.extra.get("orig_file")})
        pos = start + len(wave)

    order = [("non_cough", sounds[0]), ("coughs", coughs[0]), ("non_cough", sounds[1]),
             ("coughs", coughs[1]), ("coughs", coughs[2])]
    for kind, clip in order:
        wave = load(str(clip.path))
        if kind == "coughs":
            start, end = max(cough_segments(wave, SAMPLE_RATE), key=lambda s: s[1] - s[0])
            wave = wave[max(0, start - 800): end + 800]
        wave = wave / (np.sqrt(np.mean(wave**2)) + 1e-9) * 10 ** (-20 / 20)
        add(np.clip(wave, -1, 1).astype(np.float32), kind, clip)
    audio = np.concatenate([*parts, np.zeros(SAMPLE_RATE, np.float32)])
    audio += (rng.standard_normal(len(audio)) * 10 ** (-60 / 20)).astype(np.float32)
    return np.clip(audio, -1, 1), truth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="coughset folder")
    parser.add_argument("--seed", type=int, default=0, help="the default model's split seed")
    args = parser.parse_args()
    _, val = split_clips(load_manifest(args.data / "manifest.csv"), args.seed)
    load = Loader(SAMPLE_RATE, None)
    coughs, sounds = pick(val, args.seed, load)
    audio, truth = compose(coughs, sounds, load, args.seed)
    soundfile.write(str(OUT_DIR / "example.ogg"), audio, SAMPLE_RATE, format="OGG", subtype="VORBIS")
    (OUT_DIR / "example.json").write_text(json.dumps(truth, indent=1) + "\n")
    credits = "\n".join(f"- {s['kind'].replace('coughs', 'cough')}: coughset `{s['path']}` "
                        f"({s['license']}; {s['source']}; original file {s['orig_file']})" for s in truth["sources"])
    (OUT_DIR / "README.md").write_text(
        "# Example recording\n\n`example.ogg` (16 kHz mono, Ogg Vorbis, "
        f"{len(audio) / SAMPLE_RATE:.1f} s) is made by `python -m train.recipes.example_recording` from "
        "CC0 clips only, all from the default model's validation side (never trained on). "
        "`example.json` gives where the coughs and the non-cough sounds are (seconds).\n\n"
        f"{credits}\n", encoding="utf-8")
    print(json.dumps(truth))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
