"""Where clips come from: a manifest CSV or a folder per class (COUGHVID: :mod:`train.coughvid`).

A :class:`Clip` is one audio file with its raw label string; what the label
means (class, number) is decided by :mod:`train.labels` for the task.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from train.audio import AUDIO_EXTENSIONS
from train.errors import BadInputPolicy, DataError

REQUIRED_COLUMNS: Final = ("path", "label")
KNOWN_COLUMNS: Final = ("path", "label", "group")


@dataclass(frozen=True)
class Clip:
    """One labelled audio file."""

    path: Path
    """Absolute path of the audio file."""
    label: str
    """Raw label: a class name (binary/multiclass) or a number in [0, 1] (regression)."""
    group: str | None = None
    """Clips sharing a group stay on one side of the train/validation split."""
    rel_path: str = ""
    """The path as written in the source (relative to the manifest or root folder)."""
    extra: Mapping[str, str] = field(default_factory=dict)
    """Every other manifest column (dataset, category, license, ...), kept verbatim."""


def load_manifest(path: Path, policy: BadInputPolicy | None = None) -> list[Clip]:
    """Clips of a CSV with columns ``path,label[,group,...]``; paths relative to the CSV.

    Raises :class:`DataError` for an unreadable manifest or missing columns;
    a missing audio file or empty cell goes to ``policy`` (raise or skip).
    """
    policy = policy or BadInputPolicy()
    rows = _read_rows(path)
    root = path.resolve().parent
    clips = []
    for line, row in enumerate(rows, start=2):
        clip = _row_clip(row, root, f"{path}:{line}", policy)
        if clip is not None:
            clips.append(clip)
    if not clips:
        raise DataError(f"{path}: no usable clips")
    return clips


def _read_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = [c.strip() for c in reader.fieldnames or []]
    except OSError as exc:
        raise DataError(f"{path}: cannot read manifest ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a CSV manifest ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise DataError(f"{path}: manifest lacks column(s) {', '.join(missing)} (has {', '.join(columns) or 'none'})")
    return [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in rows]


def _row_clip(row: dict[str, str], root: Path, where: str, policy: BadInputPolicy) -> Clip | None:
    rel, label = row["path"], row["label"]
    if not rel:
        policy.report(f"{where}: empty path")
        return None
    if not label:
        policy.report(f"{where}: {rel}: empty label")
        return None
    audio = (root / rel).resolve()
    if not audio.is_file():
        policy.report(f"{where}: {rel}: no such file")
        return None
    extra = {k: v for k, v in row.items() if k not in KNOWN_COLUMNS}
    return Clip(audio, label, row.get("group") or None, rel, extra)


def load_folders(root: Path, policy: BadInputPolicy | None = None) -> list[Clip]:
    """Clips of a folder-per-class layout: ``root/<class>/**/<file>.wav|flac|ogg|...``.

    The sub-folder name is the label; every file is its own group.
    """
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    clips = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for audio in sorted(_audio_files(class_dir.rglob("*"))):
            rel = audio.relative_to(root).as_posix()
            clips.append(Clip(audio.resolve(), class_dir.name, None, rel, {}))
    if not clips:
        raise DataError(f"{root}: no audio files in class sub-folders ({', '.join(AUDIO_EXTENSIONS)})")
    return clips


def _audio_files(paths: Iterable[Path]) -> Iterable[Path]:
    return (p for p in paths if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes (the manifest's fingerprint in checkpoints)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def clips_sha256(clips: Iterable[Clip]) -> str:
    """Hex sha256 of the sorted ``rel_path,label`` lines: a fingerprint for any source."""
    lines = sorted(f"{c.rel_path},{c.label}" for c in clips)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
