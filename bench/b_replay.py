"""Benchmark ``replay``: audio seconds per wall second through ``cough-monitor replay``, on one core.

Per model (default, seed): a breakdown of where the time goes, the arithmetic
ceiling (:mod:`bench.ceiling`: the core's GEMM rate over the model's multiply-adds
per audio second), the fast path timed over repeats, the ``--realtime`` path (pacer
not sleeping) checked for identical events, and - for models that score runs of
windows - runs (each log-mel frame once) against one window per input row, same
pipeline and hop.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from bench.context import Context
from bench.measure import median, run_worker
from bench.models import BenchModel
from bench.report import BenchResult

log = logging.getLogger(__name__)

NAME: Final = "replay"
TARGET_X: Final = 1000.0
MODELS: Final = ("default", "seed", "fast", "ctx", "energy")
EVENT_QUANTILES: Final = ("90", "75")
"""Random-weight models get these score percentiles as on/off thresholds, so the event checks
have events (their scores hover in a narrow band where the default off = 0.7 x on never ends a bout)."""
SCORE_TOLERANCE: Final = 1e-5
"""Batch 32 vs batch 1 may differ by float rounding in onnxruntime (~1e-7)."""
BATCH_SWEEP: Final = (1, 8, 32)
"""``--batch`` values compared on the default model (32 is replay's default)."""


def run(ctx: Context) -> BenchResult:
    """Measure every model in :data:`MODELS` on one generated recording."""
    result = BenchResult(NAME)
    stream = ctx.stream(ctx.pick(600.0, 60.0))
    repeats = int(ctx.pick(3, 1))
    result.details.update(recording={"duration_s": stream.duration_s, "sample_rate": stream.sample_rate,
                                     "coughs": len(stream.cough_starts_s)}, repeats=repeats)
    peak = run_worker("gemm_peak", {})
    result.details["gemm_peak"] = peak
    for key in MODELS:
        model = ctx.model(key)
        result.details[key] = _measure_model(ctx, result, model, str(stream.path), repeats,
                                             peak["mac_per_s_best"])
    result.notes.append(
        f"{stream.duration_s / 60:g}-minute generated recording (noise floor + a cough "
        f"burst every ~4 s), 48 kHz 16-bit WAV, so decode and resampling are included; 1 core "
        f"(taskset -c 0), onnxruntime 1 thread, replay's default batch of 32 windows, each model's "
        f"default hop (0.25 s); "
        f"throughput = audio s / median wall s of `cough-monitor replay` (in-process "
        f"monitor.commands.replay.run, model load included) over {repeats} run(s). Random-weight models "
        f"use their {EVENT_QUANTILES[0]}th/{EVENT_QUANTILES[1]}th score percentiles as on/off "
        f"thresholds so the event checks have events.")
    return result


def _measure_model(ctx: Context, result: BenchResult, model: BenchModel, wav: str,
                   repeats: int, peak_mac_per_s: float) -> dict[str, Any]:
    work = ctx.scratch(f"replay-{model.key}")
    base = {"model": str(model.path), "wav": wav, "work_dir": str(work)}
    breakdown = run_worker("breakdown", base)
    own = model.trained or model.key == "energy"
    on, off = (None, None) if own else (breakdown["score_quantiles"][q] for q in EVENT_QUANTILES)
    params = {**base, "threshold": on, "threshold_off": off, "repeats": repeats}
    fast = run_worker("replay", params)
    paced = run_worker("paced", params)
    x = breakdown["audio_s"] / median(fast["seconds"])
    what = ("replay throughput: audio s per wall s (1 core)" if model.key != "energy" else
            "replay throughput with a trivial model (ceiling of decode + resample + pipeline)")
    result.add(what, f"{x:.0f}x", model.label, f">= {TARGET_X:g}x" if model.key != "energy" else "",
               x >= TARGET_X if model.key != "energy" else None)
    same, why = _same_events(fast["events"], paced["events"])
    result.add("fast path vs --realtime path (0.1 s blocks, batch 1): events",
               f"{'identical' if same else 'DIFFER: ' + why} ({len(fast['events'])} events, "
               f"{paced['pacer_calls']} paced blocks)",
               model.label, "identical", same and fast["repeats_identical"])
    details = {"threshold": [on, off], "breakdown": breakdown, "x_real_time": x,
               "fast": fast | {"events": len(fast["events"])},
               "paced": paced | {"events": len(paced["events"])}, "events_identical": same}
    if model.key == "energy":
        return details
    result.add("replay time split: decode / resample / log-mel / CNN / detector / rest",
               _split_text(breakdown), model.label)
    details["ceiling_x"] = _ceiling(result, model, breakdown, peak_mac_per_s)
    if model.key == "default":
        details["batch_sweep"] = _batch_sweep(result, model, params, breakdown["audio_s"])
    if breakdown["run_hop_samples"]:
        details["runs"] = _runs(result, model, base, (on, off), breakdown, repeats)
    return details


def _batch_sweep(result: BenchResult, model: BenchModel, params: dict[str, Any],
                 audio_s: float) -> dict[str, float]:
    """Replay throughput per ``--batch`` value, interleaved rounds."""
    seconds: dict[int, list[float]] = {b: [] for b in BATCH_SWEEP}
    for _ in range(int(params["repeats"])):
        for batch in BATCH_SWEEP:
            out = run_worker("replay", {**params, "batch": batch, "repeats": 1})
            seconds[batch].extend(out["seconds"])
    xs = {str(b): audio_s / median(s) for b, s in seconds.items()}
    result.add("replay throughput by --batch (windows per onnxruntime call)",
               ", ".join(f"{b}: {x:.0f}x" for b, x in xs.items()), model.label)
    return xs


def _same_events(fast: list[dict], paced: list[dict]) -> tuple[bool, str]:
    """Equal ids, times and window counts; scores equal within :data:`SCORE_TOLERANCE`."""
    if len(fast) != len(paced):
        return False, f"{len(fast)} vs {len(paced)} events"
    for a, b in zip(fast, paced, strict=True):
        for key in a:
            if key in ("peak_score", "mean_score"):
                if abs(a[key] - b[key]) > SCORE_TOLERANCE:
                    return False, f"{key} {a[key]} vs {b[key]}"
            elif a[key] != b[key]:
                return False, f"{key} {a[key]!r} vs {b[key]!r}"
    return True, ""


def _split_text(breakdown: dict[str, Any]) -> str:
    s = breakdown["seconds"]
    total = s["total"]
    frontend = breakdown["profile"]["frontend_share"]
    parts = [s["decode"], s["mixdown_resample"], s["scoring"] * frontend,
             s["scoring"] * (1 - frontend), s["detector"], max(0.0, s["framing_and_rest"])]
    pct = " / ".join(f"{100 * p / total:.0f}%" for p in parts)
    audio_s = breakdown["audio_s"]
    return (f"{pct} (pipeline alone {audio_s / total:.0f}x; with a free log-mel at most "
            f"{audio_s / (total - parts[2]):.0f}x)")


def _ceiling(result: BenchResult, model: BenchModel, breakdown: dict[str, Any],
             peak_mac_per_s: float) -> float:
    """Replay's arithmetic bound: the core's GEMM rate / the model's multiply-adds per audio s."""
    macs = breakdown["profile"]["macs_per_window"]
    windows_per_s = breakdown["sample_rate"] / breakdown["hop_samples"]
    per_audio_s = (macs["frontend"] + macs["network"]) * windows_per_s
    ceiling = peak_mac_per_s / per_audio_s
    result.add("arithmetic ceiling: multiply-adds per audio s at this core's best onnxruntime GEMM rate",
               f"<= {ceiling:.0f}x ({per_audio_s / 1e6:.0f} M/s = ({macs['frontend'] / 1e6:.1f} log-mel "
               f"+ {macs['network'] / 1e6:.1f} CNN) M per window x {windows_per_s:.3g} windows/s; "
               f"GEMM {peak_mac_per_s / 1e9:.0f} G/s)",
               model.label, f">= {TARGET_X:g}x", ceiling >= TARGET_X)
    return ceiling


def _runs(result: BenchResult, model: BenchModel, base: dict[str, Any],
          thresholds: tuple[float | None, float | None], breakdown: dict[str, Any],
          repeats: int) -> dict[str, Any]:
    """Runs (each frame once) vs one window per row, at the model's run hop."""
    on, off = thresholds
    if on is None:
        on, off = breakdown["threshold_on"], breakdown["threshold_off"]
    out = run_worker("runs", {**base, "hop_samples": breakdown["run_hop_samples"], "threshold": on,
                              "threshold_off": off, "repeats": repeats})
    runs, rows = median(out["seconds"]["runs"]), median(out["seconds"]["rows"])
    audio_s = breakdown["audio_s"]
    result.add("runs of windows (each log-mel frame once) vs one window per row",
               f"{rows / runs:.2f}x faster ({audio_s / runs:.0f}x vs {audio_s / rows:.0f}x real time), "
               f"max |Δscore| {out['max_score_diff']:.1e}, events "
               f"{'same' if out['events_equal'] else 'DIFFER'} ({out['events']})",
               model.label, "same events", out["events_equal"])
    return out
