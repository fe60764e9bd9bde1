"""What the benchmarks of one suite run share: mode, scratch folder, models and audio (made once)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from bench import models as bench_models
from bench.audio import StreamFile, write_stream

log = logging.getLogger(__name__)


@dataclass
class Context:
    """Shared state of a suite run; inputs are generated on first use and reused."""

    quick: bool
    """Shortened figures for a smoke run (``--quick``)."""
    work_dir: Path
    """Scratch folder (deleted after the run)."""
    _models: dict[str, bench_models.BenchModel] = field(default_factory=dict)
    _streams: dict[float, StreamFile] = field(default_factory=dict)

    def pick(self, full: float, quick: float) -> float:
        """``quick`` under ``--quick``, else ``full``."""
        return quick if self.quick else full

    def model(self, key: str) -> bench_models.BenchModel:
        """'default', 'seed', 'fast' or 'energy' (exported or located on first use)."""
        if key not in self._models:
            self._models.update(bench_models.prepare([key], self.work_dir / "models"))
        return self._models[key]

    def stream(self, duration_s: float) -> StreamFile:
        """The generated recording of ``duration_s`` (48 kHz WAV, a cough every ~4 s)."""
        if duration_s not in self._streams:
            path = self.work_dir / f"stream-{duration_s:g}s.wav"
            log.info("writing a %g s test recording", duration_s)
            self._streams[duration_s] = write_stream(path, duration_s)
        return self._streams[duration_s]

    def scratch(self, name: str) -> Path:
        """A fresh sub-folder of the scratch folder."""
        path = self.work_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path
