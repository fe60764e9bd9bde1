"""Results of the bench suite: rows, machine description, JSON files and the markdown table.

Every benchmark returns a :class:`BenchResult`: table rows (one measured figure
each, with its target when the project has one) plus free-form ``details``
(raw timings, configuration) that go only into ``bench/results/<name>.json``.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import numpy as np

SCHEMA: Final = "coughwatch.bench/1"
PACKAGES: Final = ("onnxruntime", "torch", "torchaudio", "numpy", "soxr", "soundfile", "paho-mqtt")
TABLE_HEADER: Final = ("benchmark", "measurement", "model", "value", "target", "met")


@dataclass(frozen=True)
class Row:
    """One figure of the summary table."""

    measurement: str
    """What was measured, with its unit and conditions (e.g. 'audio s per wall s, 1 core')."""
    value: str
    """The figure as shown (already formatted)."""
    model: str = ""
    """Which model produced it (e.g. 'default (random weights)'); '' when not model-specific."""
    target: str = ""
    """The project's target for it ('' = informative only)."""
    met: bool | None = None
    """Whether the target is met (None: no target or not decidable)."""


@dataclass
class BenchResult:
    """What one benchmark measured."""

    name: str
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    """Raw figures and configuration (JSON-ready), written only to the JSON file."""
    notes: list[str] = field(default_factory=list)
    """Short findings printed under the table."""
    error: str | None = None
    """One line when the benchmark failed (its rows so far are kept)."""
    seconds: float = 0.0
    """Wall time the benchmark took."""

    def add(self, measurement: str, value: str, model: str = "", target: str = "",
            met: bool | None = None) -> None:
        """Append a table row."""
        self.rows.append(Row(measurement, value, model, target, met))


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (this machine is shared: context for every figure)."""
    return [round(x, 2) for x in os.getloadavg()]


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo ('' when unknown)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, versions, date and load: the context every result file carries."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "memory_gib": round(_mem_total_kib() / 2**20, 1),
        "cuda": _cuda_name(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "versions": versions,
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_average": load_average(),
    }


def _mem_total_kib() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cuda_name() -> str | None:
    """The CUDA device name when torch sees one (torch is imported only if installed)."""
    try:
        import torch
    except ImportError:
        return None
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def write_result(result: BenchResult, machine: dict[str, Any], out_dir: Path, quick: bool,
                 load_before: list[float]) -> Path:
    """``out_dir/<name>.json`` with the rows, details, machine and load before/after."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "schema": SCHEMA,
        "name": result.name,
        "quick": quick,
        "machine": machine,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "seconds": round(result.seconds, 1),
        "error": result.error,
        "rows": [asdict(row) for row in result.rows],
        "notes": result.notes,
        "details": result.details,
    }
    path = out_dir / f"{result.name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def markdown_table(results: list[BenchResult]) -> str:
    """One markdown table over every result (failed benchmarks get an 'error' row)."""
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
    for result in results:
        for row in result.rows:
            met = {True: "yes", False: "**no**", None: ""}[row.met]
            cells = (result.name, row.measurement, row.model, row.value, row.target, met)
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        if result.error:
            lines.append(f"| {result.name} | failed | | {_cell(result.error)} | | |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary_markdown(results: list[BenchResult], machine: dict[str, Any], quick: bool,
                     load_before: list[float]) -> str:
    """The whole ``summary.md``: machine line, table, notes."""
    versions = machine["versions"]
    head = (
        f"Machine: {machine['cpu_model']}, {machine['cpu_cores']} cores, "
        f"{machine['memory_gib']} GiB; {'CUDA ' + machine['cuda'] if machine['cuda'] else 'no GPU'}; "
        f"Python {machine['python']}, onnxruntime {versions['onnxruntime']}, torch {versions['torch']}; "
        f"{machine['date_utc']}; load average {_load(load_before)} at start, "
        f"{_load(load_average())} at end (shared machine)."
        + (" **--quick run: shortened, not for publication.**" if quick else "")
    )
    notes = [f"- {r.name}: {note}" for r in results for note in r.notes]
    parts = [head, "", markdown_table(results)]
    if notes:
        parts += ["", "Notes:", "", *notes]
    return "\n".join(parts) + "\n"


def _load(values: list[float]) -> str:
    return "/".join(f"{v:.1f}" for v in values)
