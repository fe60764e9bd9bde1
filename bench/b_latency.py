"""Benchmark ``latency``: one window scored alone (what the live path does each hop), 1 thread.

Times :meth:`monitor.scoring.scorer.Scorer.score` on batch-1 windows cut from the
generated recording, in a worker pinned to one core, after a warm-up.
"""

from __future__ import annotations

from typing import Final

from bench.context import Context
from bench.measure import run_worker
from bench.report import BenchResult

NAME: Final = "latency"
MODELS: Final = ("default", "seed", "fast", "ctx")


def run(ctx: Context) -> BenchResult:
    """p50/p99 per model."""
    result = BenchResult(NAME)
    stream = ctx.stream(ctx.pick(600.0, 60.0))
    calls = int(ctx.pick(2000, 200))
    for key in MODELS:
        model = ctx.model(key)
        out = run_worker("latency", {"model": str(model.path), "wav": str(stream.path), "windows": calls})
        ms = out["ms"]
        result.add("per-window scoring latency p50 / p99 (batch 1, 1 thread, 1 core)",
                   f"{ms['p50']:.2f} / {ms['p99']:.2f} ms", model.label)
        result.details[key] = out
    result.notes.append(f"{calls} calls of Scorer.score on one window each, after 20 "
                        "warm-up calls; windows cut from the generated recording.")
    return result
