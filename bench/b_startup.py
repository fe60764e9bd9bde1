"""Benchmark ``startup``: launch of ``cough-monitor listen`` -> ``READY=1`` on a NOTIFY_SOCKET.

Each launch is a fresh process (interpreter start, imports, model load,
microphone open, first audio block scored) on the PulseAudio null sink with
MQTT configured and ``WATCHDOG_USEC`` as the systemd unit sets it. Also timed:
the first ``…/stats`` message at the subscriber (sent right after the first
block) and SIGTERM -> exit.
"""

from __future__ import annotations

import time
from typing import Final

from bench.b_live import live_model
from bench.context import Context
from bench.live_rig import LiveRig
from bench.measure import median
from bench.models import BenchModel
from bench.report import BenchResult

NAME: Final = "startup"
STATS_TIMEOUT_S: Final = 10.0


def run(ctx: Context) -> BenchResult:
    """Median over launches, per model (the live model, and the default CNN when that differs)."""
    result = BenchResult(NAME)
    launches = int(ctx.pick(5, 2))
    models = [live_model(ctx)]
    if not models[0].trained:
        models.append(ctx.model("default"))
    with LiveRig() as rig:
        for model in models:
            timings = [_launch_once(rig, model) for _ in range(launches)]
            ready = [t["ready_s"] for t in timings]
            stats = [t["first_stats_s"] for t in timings if t["first_stats_s"] is not None]
            stops = [t["stop_s"] for t in timings]
            result.add(f"launch -> READY=1, median of {launches} (min-max)",
                       f"{median(ready):.2f} s ({min(ready):.2f}-{max(ready):.2f})", model.label)
            if stats:
                result.add("launch -> first stats message at mosquitto_sub (first block scored)",
                           f"{median(stats):.2f} s", model.label)
            result.add("SIGTERM -> exit (events flushed, offline published)", f"{median(stops):.2f} s",
                       model.label)
            result.details[model.key] = timings
    result.notes.append("READY=1 is sent once the first audio block has been scored (the "
                        "supervisor polls every 50 ms until then).")
    return result


def _launch_once(rig: LiveRig, model: BenchModel) -> dict[str, float | int | None]:
    listener = rig.launch(model.path)
    ready_s = rig.wait_ready(listener)
    deadline = time.monotonic() + STATS_TIMEOUT_S
    stats = rig.messages("stats", listener.launched_at)
    while not stats and time.monotonic() < deadline:
        time.sleep(0.05)
        stats = rig.messages("stats", listener.launched_at)
    stop_began = time.monotonic()
    status = listener.stop()
    return {"ready_s": ready_s, "stop_s": time.monotonic() - stop_began, "exit_status": status,
            "first_stats_s": stats[0].arrived_s - listener.launched_at if stats else None}
