"""Measuring helpers: robust statistics, one-core pinning, /proc figures of a process.

These machines are shared and noisy: figures are medians over repeats, and
anything compared is measured in the same run, interleaved.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

PINNED_CPU: Final = 0
"""The one core single-core figures run on (``taskset -c 0``)."""
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")


def median(values: Sequence[float]) -> float:
    """Median (NaN for no values)."""
    return float(np.median(values)) if len(values) else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile, linear interpolation (NaN for no values)."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def pinned(cmd: list[str]) -> list[str]:
    """``cmd`` under ``taskset -c 0`` (one core); unchanged when taskset is missing."""
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(PINNED_CPU), *cmd] if taskset else cmd


def run_worker(task: str, params: dict[str, Any], timeout_s: float = 900.0,
               env: dict[str, str] | None = None, python: str | None = None) -> dict[str, Any]:
    """Run ``python -m bench.worker TASK`` pinned to one core; return its JSON answer.

    The worker imports only what the monitor imports (no torch), like a real
    ``cough-monitor`` process; ``python`` (default: this one) runs it. Raises
    ``RuntimeError`` with its stderr tail on failure.
    """
    cmd = pinned([python or sys.executable, "-m", "bench.worker", task, json.dumps(params)])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env,
                          cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"bench.worker {task} failed (exit {done.returncode}): {' / '.join(tail)}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far, all threads (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


def memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` (now), ``VmHWM`` (peak) and ``Pss`` (shared pages split among their users)
    of ``pid`` in KiB."""
    out = {}
    for name, keys in (("status", ("VmRSS", "VmHWM")), ("smaps_rollup", ("Pss",))):
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in keys:
                out[key] = int(line.split()[1])
    return out


def fmt_ms(seconds: float) -> str:
    """Seconds as a short millisecond string."""
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"
