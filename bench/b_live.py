"""Benchmark ``live``: ``cough-monitor listen`` on a PulseAudio null sink with MQTT.

While coughs are played into the sink with ``paplay`` every few seconds, the
listen process's CPU time (``/proc/PID/stat`` utime + stime, all threads) is
read at the start and end of the window; its memory from ``/proc/PID/status``
at the end. Each cough's onset time is the moment ``paplay`` was started plus
the cough's offset in the file; latency is the arrival of the ``…/state`` ON
and of the ``…/event`` message at a ``mosquitto_sub`` read by this process, so
it includes paplay start-up, PulseAudio buffering and the audio blocks (``listen``'s
default ``block_ms``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Final

import numpy as np

from bench.audio import write_cough_clip, write_example_cough_clip
from bench.context import Context
from bench.live_rig import LiveRig, monitor_install, monitor_python
from bench.measure import cpu_seconds, median, memory_kib, percentile, run_worker
from bench.models import BenchModel
from bench.report import BenchResult
from monitor.config.settings import AudioSettings

log = logging.getLogger(__name__)

NAME: Final = "live"
RATE_HZ: Final = 16000
LEAD_S: Final = 0.2
"""Silence before the cough in each played file (the onset is launch + LEAD_S)."""
HOP_S: Final = 0.25
"""The monitor's default hop (a quarter of the default model's 1 s window)."""
COUGH_PERIOD_S: Final = 3.0 + HOP_S * 0.382
"""Not a whole number of hops: each cough lands at a different phase of the window grid
(the golden-ratio step spreads 19 coughs evenly over it), so the latency figures cover
every alignment instead of repeating one."""
CLIPS: Final = 5
PHASES: Final = 10
"""Offline share of the latency: each clip at this many evenly spaced offsets on the hop grid."""
SETTLE_S: Final = 2.0
"""Wait after READY=1 before measuring."""
DRAIN_S: Final = 3.0
"""Wait after the window for the last events (merge gap, MQTT)."""
CPU_TARGET_PCT: Final = 2.0
RSS_TARGET_MB: Final = 100.0
LATENCY_TARGET_S: Final = 0.75


def live_model(ctx: Context) -> BenchModel:
    """The shipped default when present, else the energy test model (random weights never fire)."""
    default = ctx.model("default")
    return default if default.trained else ctx.model("energy")


def run(ctx: Context) -> BenchResult:
    """CPU, memory and onset latency over a window of played coughs, per model."""
    result = BenchResult(NAME)
    model = live_model(ctx)
    window_s = ctx.pick(60.0, 10.0)
    plan = [(model, window_s, True)]
    if not model.trained:  # the CNN's cost, measured with the random-weight default (never fires)
        plan.append((ctx.model("default"), window_s / 2, False))
    clips = [ctx.work_dir / "live" / f"cough-{i}.wav" for i in range(CLIPS)]
    for i, path in enumerate(clips):
        if model.trained:  # real coughs: the trained model ignores synthetic bursts
            write_example_cough_clip(path, LEAD_S, 0.3, i)
        else:
            write_cough_clip(path, LEAD_S, 0.3, RATE_HZ, seed=100 + i)
    with LiveRig() as rig:
        for bench_model, seconds, fires in plan:
            result.details[bench_model.key] = _session(rig, result, bench_model, clips, seconds, fires)
        first = result.details[model.key]
        if model.trained and first["on_messages"] < first["coughs"] / 2:
            result.notes.append(f"the shipped model detected {first['on_messages']} of "
                                f"{first['coughs']} played coughs: latency also measured with "
                                "the energy test model.")
            energy = ctx.model("energy")
            result.details["energy"] = _session(rig, result, energy, clips, window_s, True)
        if model.trained:
            result.details["model_share_s"] = _model_share(result, model, clips)
        parts = run_worker("imports", {"model": str(plan[-1][0].path)}, env=rig.pulse.env,
                           python=monitor_python())
    result.add("listen memory by part (RSS MB added, in load order)",
               ", ".join(f"{name} {mb:.0f}" if name == "interpreter" else f"{name} {mb:+.0f}"
                         for name, mb in parts["mb"].items()), plan[-1][0].label)
    result.details["memory_parts_mb"] = parts
    if not model.trained:
        result.notes.append("no trained default model (monitor/models/default.onnx) yet: latency is "
                            "measured with the energy test model of tests/fx_models.py (it fires on "
                            "the played coughs); CPU and memory also with the random-weight default "
                            "CNN, which costs the same as a trained one but detects nothing.")
    result.notes.append(f"{window_s:g} s window, a cough every {COUGH_PERIOD_S:g} s; latency "
                        "counts from paplay's launch + the cough's offset in the file, so it includes "
                        "paplay start-up and PulseAudio buffering; "
                        f"{AudioSettings().block_ms} ms audio blocks, hop 0.25 s; "
                        f"monitor process from {monitor_install()}.")
    return result


def _session(rig: LiveRig, result: BenchResult, model: BenchModel, clips: list[Path],
             window_s: float, fires: bool) -> dict[str, Any]:
    """One ``listen`` process: READY, a measured window of coughs, memory, messages, SIGTERM."""
    listener = rig.launch(model.path)
    ready_s = rig.wait_ready(listener)
    time.sleep(SETTLE_S)
    measured = _measure_window(rig, listener.proc.pid, clips, window_s)
    time.sleep(DRAIN_S if fires else 0.0)
    memory = memory_kib(listener.proc.pid)
    ons, events = rig.messages("state", measured["t0"]), rig.messages("event", measured["t0"])
    exit_status = listener.stop()
    on_times = [m.arrived_s for m in ons if m.payload == "ON"]
    latency_on = _latencies(measured["onsets"], on_times)
    latency_event = _latencies(measured["onsets"], [m.arrived_s for m in events])
    _rows(result, model, measured, memory, latency_on if fires else None,
          latency_event if fires else None, window_s)
    return {"model": model.label, "ready_s": ready_s, "exit_status": exit_status, "window_s": window_s,
            "cpu": measured["cpu"], "memory_kib": memory, "coughs": len(measured["onsets"]),
            "on_messages": len(on_times), "event_messages": len(events),
            "latency_on_s": latency_on, "latency_event_s": latency_event}


def _measure_window(rig: LiveRig, pid: int, clips: list[Path], window_s: float) -> dict[str, Any]:
    """Play a cough every :data:`COUGH_PERIOD_S` for ``window_s``; CPU of ``pid`` over the window."""
    onsets, players = [], []
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    next_play = t0 + 0.5
    while next_play + COUGH_PERIOD_S <= t0 + window_s:
        time.sleep(max(0.0, next_play - time.monotonic()))
        launched = time.monotonic()
        players.append(rig.play(clips[len(onsets) % len(clips)]))
        onsets.append(launched + LEAD_S)
        next_play += COUGH_PERIOD_S
    time.sleep(max(0.0, t0 + window_s - time.monotonic()))
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    for player in players:
        player.wait(timeout=30)
    return {"t0": t0, "onsets": onsets,
            "cpu": {"cpu_s": cpu1 - cpu0, "wall_s": t1 - t0, "percent": 100 * (cpu1 - cpu0) / (t1 - t0)}}


def _model_share(result: BenchResult, model: BenchModel, clips: list[Path]) -> list[float | None]:
    """The played clips replayed offline through the monitor's scorer and detector (no audio
    path), each at :data:`PHASES` offsets on the window grid: cough onset -> end of the window
    whose score confirms the onset. What the model and the hop cost of the live latency."""
    import argparse

    import soundfile

    from monitor.config.cliargs import detection_settings
    from monitor.scoring.modelfile import load_model
    from train.stream_eval import run_detector, score_stream
    from train.streams import Stream

    loaded = load_model(model.path)
    none = argparse.Namespace(threshold=None, threshold_off=None, onset_k=None, onset_n=None,
                              min_duration_ms=None, merge_gap_ms=None, refractory_ms=None, hop_ms=None)
    settings, framing = detection_settings(none, loaded.info)  # the model's defaults, as listen uses
    window, hop, rate = framing.window_samples, framing.hop_samples, framing.sample_rate
    shares: list[float | None] = []
    for clip in clips:
        audio, clip_rate = soundfile.read(str(clip), dtype="float32")
        assert clip_rate == rate, f"{clip}: {clip_rate} Hz, the model wants {rate}"
        for phase in range(PHASES):
            lead = window + round(phase * hop / PHASES)  # a full window of quiet first, as live
            stream = np.concatenate([np.zeros(lead, np.float32), audio, np.zeros(window, np.float32)])
            stream += np.random.default_rng(phase).normal(0, 1e-4, len(stream)).astype(np.float32)
            found = run_detector(score_stream(loaded, Stream(stream, rate), hop), settings)
            onset = lead + round(LEAD_S * rate)
            shares.append((found[0].confirmed_sample - onset) / rate if found else None)
    got = [s for s in shares if s is not None]
    result.add("same clips offline (no audio path): onset -> confirming window end, median / p90",
               f"{median(got):.2f} / {percentile(got, 90):.2f} s ({len(got)}/{len(shares)} clip x phase)"
               if got else f"no onset (0/{len(shares)})", model.label)
    return shares


def _latencies(onsets: list[float], arrivals: list[float]) -> list[float | None]:
    """Per cough: first arrival after its onset and before the next cough's (None if missed)."""
    out: list[float | None] = []
    for i, onset in enumerate(onsets):
        end = onsets[i + 1] if i + 1 < len(onsets) else onset + COUGH_PERIOD_S
        hits = [a - onset for a in arrivals if onset <= a < end]
        out.append(min(hits) if hits else None)
    return out


def _rows(result: BenchResult, model: BenchModel, measured: dict[str, Any], memory: dict[str, int],
          latency_on: list[float | None] | None, latency_event: list[float | None] | None,
          window_s: float) -> None:
    cpu = measured["cpu"]["percent"]
    result.add(f"listen CPU, % of one core over {window_s:g} s (coughs playing)", f"{cpu:.2f} %",
               model.label, f"< {CPU_TARGET_PCT:g} %", cpu < CPU_TARGET_PCT)
    rss_mb, hwm_mb = memory.get("VmRSS", 0) / 1024, memory.get("VmHWM", 0) / 1024
    pss_mb = memory.get("Pss", 0) / 1024
    result.add("listen memory: VmRSS (VmHWM peak; PSS)", f"{rss_mb:.0f} MB ({hwm_mb:.0f} MB; {pss_mb:.0f} MB)",
               model.label,
               f"< {RSS_TARGET_MB:g} MB", hwm_mb < RSS_TARGET_MB)
    for what, values, target in (("state ON", latency_on, True), ("event", latency_event, False)):
        if values is None:
            continue
        got = [v for v in values if v is not None]
        if not got:
            result.add(f"cough onset -> {what} at mosquitto_sub", f"no message (0/{len(values)} coughs)",
                       model.label, f"median < {LATENCY_TARGET_S:g} s" if target else "", False)
            continue
        med = median(got)
        result.add(f"cough onset -> {what} at mosquitto_sub: median / p90",
                   f"{med:.2f} / {percentile(got, 90):.2f} s ({len(got)}/{len(values)} coughs)",
                   model.label, f"median < {LATENCY_TARGET_S:g} s" if target else "",
                   (med < LATENCY_TARGET_S and len(got) == len(values)) if target else None)
