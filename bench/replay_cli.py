"""Worker tasks: ``cough-monitor replay`` itself, in-process (``monitor.commands.replay.run``).

``replay``: the fast path, timed end to end (model load, decode, resample,
scoring, detector, JSON output). ``paced``: the ``--realtime`` path with its
pacer swapped for one that records each block instead of sleeping, so a long
file can be checked against the fast path in seconds: everything else (0.1 s
blocks, one window per onnxruntime call) is what ``--realtime`` runs.
"""

from __future__ import annotations

import io
import json
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any, Final

from monitor.cli import build_parser
from monitor.commands import replay

START_TIME: Final = "2026-01-01T00:00:00Z"
"""Fixed wall time of sample 0, so event ids are comparable between runs."""
DEVICE_ID: Final = "bench"


def replay_args(params: dict[str, Any], events_out: Path, realtime: bool) -> list[str]:
    """The ``cough-monitor replay`` command line for one run."""
    argv = ["replay", params["wav"], "--model", params["model"], "--threads", "1",
            "--events-out", str(events_out), "--start-time", START_TIME, "--device-id", DEVICE_ID,
            "--no-history"]  # benchmark events stay out of the developer's cough history
    if params.get("threshold") is not None:
        argv += ["--threshold", repr(float(params["threshold"]))]
    if params.get("threshold_off") is not None:
        argv += ["--threshold-off", repr(float(params["threshold_off"]))]
    if params.get("batch") is not None:
        argv += ["--batch", str(int(params["batch"]))]
    if params.get("hop_ms") is not None:
        argv += ["--hop-ms", repr(float(params["hop_ms"]))]
    return argv + (["--realtime"] if realtime else [])


def run_replay(argv: list[str]) -> float:
    """Run ``cough-monitor replay`` in this process; return its wall time in seconds."""
    args = build_parser().parse_args(argv)
    with redirect_stdout(io.StringIO()):  # the JSON lines; the events file keeps them too
        began = time.perf_counter()
        status = replay.run(args)
        elapsed = time.perf_counter() - began
    if status != 0:
        raise RuntimeError(f"cough-monitor {' '.join(argv)} exited {status}")
    return elapsed


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events a run appended to ``--events-out``."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def task_replay(params: dict[str, Any]) -> dict[str, Any]:
    """Fast replay ``repeats`` times: wall seconds per run and the events of each run."""
    work = Path(params["work_dir"])
    seconds, runs = [], []
    for i in range(int(params["repeats"])):
        out = work / f"fast-{i}.jsonl"
        out.unlink(missing_ok=True)
        seconds.append(run_replay(replay_args(params, out, realtime=False)))
        runs.append(read_events(out))
    return {"seconds": seconds, "events": runs[0],
            "repeats_identical": all(r == runs[0] for r in runs)}


class _RecordingPacer:
    """Stands in for replay's real-time pacer: records block ends, never sleeps."""

    calls: list[int] = []

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate

    def __call__(self, end_sample: int) -> None:
        _RecordingPacer.calls.append(end_sample)


def task_paced(params: dict[str, Any]) -> dict[str, Any]:
    """``--realtime`` replay without the sleeping; events plus how the blocks were paced."""
    out = Path(params["work_dir"]) / "paced.jsonl"
    out.unlink(missing_ok=True)
    real_pacer = replay._RealtimePacer
    _RecordingPacer.calls = []
    replay._RealtimePacer = _RecordingPacer  # the one substitution; see the module docstring
    try:
        seconds = run_replay(replay_args(params, out, realtime=True))
    finally:
        replay._RealtimePacer = real_pacer
    ends = _RecordingPacer.calls
    steps = [b - a for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    return {"seconds": seconds, "events": read_events(out), "pacer_calls": len(ends),
            "median_block_samples": sorted(steps)[len(steps) // 2] if steps else 0}
