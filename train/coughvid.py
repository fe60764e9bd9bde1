"""The COUGHVID folder as published: ``<uuid>.json`` next to ``<uuid>.webm|.ogg|.wav``.

``cough_detected`` (a string in the JSON, 0..1) is the regression target, as in
the tutorial; ``status`` (healthy / symptomatic / COVID-19) is the class label
for ``multiclass``; ``binary`` calls a recording ``cough`` when
``cough_detected >= 0.5``. webm/ogg are converted once with ffmpeg (in
parallel, with a progress bar) to 16-bit mono wav at their own rate in a cache
folder; a later run reuses the wav unless the source is newer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tqdm import tqdm

from train.data import Clip
from train.errors import BadInputPolicy, DataError
from train.labels import REGRESSION_POSITIVE

log = logging.getLogger(__name__)

AUDIO_SUFFIXES: Final = (".wav", ".webm", ".ogg")
"""Looked for next to each JSON, in this order."""
TARGET_FIELD: Final = "cough_detected"
CLASS_FIELD: Final = "status"


@dataclass(frozen=True)
class Recording:
    """One COUGHVID entry before conversion."""

    uuid: str
    source: Path
    cough_detected: float
    status: str | None


def load_coughvid(
    root: Path,
    task: str,
    wav_dir: Path,
    policy: BadInputPolicy,
    min_cough_detected: float | None = None,
    threads: int | None = None,
) -> list[Clip]:
    """Clips of a COUGHVID folder, labelled for ``task``, audio converted to wav under ``wav_dir``."""
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    records = [r for r in scan(root, policy) if _keep(r, min_cough_detected)]
    if task == "multiclass":
        unlabelled = sum(r.status is None for r in records)
        if unlabelled:
            log.info("leaving out %d COUGHVID recordings without '%s'", unlabelled, CLASS_FIELD)
        records = [r for r in records if r.status is not None]
    if not records:
        raise DataError(f"{root}: no COUGHVID recordings left (json + webm/ogg/wav, filters applied)")
    wavs = convert_all([r.source for r in records], wav_dir, policy, threads)
    return [
        _clip(record, wav, root, task) for record, wav in zip(records, wavs, strict=True) if wav is not None
    ]


def scan(root: Path, policy: BadInputPolicy) -> list[Recording]:
    """Every ``<uuid>.json`` with an audio file beside it, sorted by uuid."""
    records = []
    for meta_path in sorted(root.glob("*.json")):
        source = next((meta_path.with_suffix(s) for s in AUDIO_SUFFIXES if meta_path.with_suffix(s).is_file()), None)
        if source is None:
            policy.report(f"{meta_path}: no .webm/.ogg/.wav beside it")
            continue
        record = _parse(meta_path, source, policy)
        if record is not None:
            records.append(record)
    return records


def _parse(meta_path: Path, source: Path, policy: BadInputPolicy) -> Recording | None:
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        score = float(meta[TARGET_FIELD])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        policy.report(f"{meta_path}: no usable '{TARGET_FIELD}' ({type(exc).__name__}: {exc})")
        return None
    if not 0.0 <= score <= 1.0:
        policy.report(f"{meta_path}: '{TARGET_FIELD}' {score} is not in [0, 1]")
        return None
    status = meta.get(CLASS_FIELD) or None
    return Recording(meta_path.stem, source, score, str(status) if status is not None else None)


def _keep(record: Recording, min_cough_detected: float | None) -> bool:
    return min_cough_detected is None or record.cough_detected >= min_cough_detected


def _clip(record: Recording, wav: Path, root: Path, task: str) -> Clip:
    if task == "regression":
        label = repr(record.cough_detected)
    elif task == "binary":
        label = "cough" if record.cough_detected >= REGRESSION_POSITIVE else "non_cough"
    else:
        label = record.status or ""
    extra = {TARGET_FIELD: repr(record.cough_detected), CLASS_FIELD: record.status or ""}
    return Clip(wav, label, None, record.source.relative_to(root).as_posix(), extra)


def wav_dir_for(root: Path, cache_dir: Path) -> Path:
    """Where the converted wavs of the COUGHVID folder ``root`` live inside ``cache_dir``."""
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    return cache_dir / "coughvid" / digest


def convert_all(
    sources: list[Path], wav_dir: Path, policy: BadInputPolicy, threads: int | None = None
) -> list[Path | None]:
    """wav path per source (wav sources as they are); None where ``policy`` skipped a failure."""
    todo = [s for s in sources if s.suffix.lower() != ".wav" and not _fresh(s, _target(s, wav_dir))]
    if todo:
        _require_ffmpeg()
        wav_dir.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1) as pool:
            errors = dict(tqdm(pool.map(lambda s: (s, convert(s, _target(s, wav_dir))), todo),
                               total=len(todo), desc="ffmpeg -> wav", unit="file", disable=None))
        for source in todo:
            if errors[source]:
                policy.report(f"{source}: ffmpeg failed ({errors[source]})")
    return [_result(s, wav_dir) for s in sources]


def _result(source: Path, wav_dir: Path) -> Path | None:
    if source.suffix.lower() == ".wav":
        return source
    target = _target(source, wav_dir)
    return target if target.is_file() else None


def _target(source: Path, wav_dir: Path) -> Path:
    return wav_dir / f"{source.stem}.wav"


def _fresh(source: Path, target: Path) -> bool:
    return target.is_file() and target.stat().st_mtime_ns >= source.stat().st_mtime_ns


def convert(source: Path, target: Path) -> str:
    """ffmpeg ``source`` -> 16-bit mono wav ``target`` (atomic); '' or the error text."""
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp.wav")
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source),
               "-vn", "-ac", "1", "-c:a", "pcm_s16le", str(tmp)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        return " ".join(done.stderr.split())[-200:] or f"exit status {done.returncode}"
    os.replace(tmp, target)
    return ""


def _require_ffmpeg() -> None:
    if shutil.which("ffmpeg") is None:
        raise DataError("ffmpeg not found on PATH: install it (Debian/Ubuntu: apt install ffmpeg) "
                        "to read COUGHVID .webm/.ogg files")
