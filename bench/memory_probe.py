"""Worker task ``imports``: resident memory added by each part a ``listen`` process loads.

Steps follow the order ``cough-monitor listen`` loads things; each figure is
VmRSS after the step minus before it (MB). Run with the PulseAudio
environment so PortAudio loads the same ALSA/PulseAudio plugins.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def task_imports(params: dict[str, Any]) -> dict[str, Any]:
    """MB of RSS per step, plus the total."""
    state: dict[str, Any] = {}

    def load_and_score() -> None:
        import numpy as np

        from monitor.scoring.modelfile import load_model
        from monitor.scoring.scorer import Scorer

        model = load_model(params["model"], threads=1)
        Scorer(model).score(np.zeros((1, model.info.spec.window_samples), np.float32))
        state["model"] = model

    def build_settings() -> None:
        from monitor.config.sources import ConfigSources, load_settings

        state["settings"] = load_settings(ConfigSources(environ={}))

    steps: list[tuple[str, Callable[[], Any]]] = [
        ("numpy", lambda: importlib.import_module("numpy")),
        ("onnxruntime", lambda: importlib.import_module("onnxruntime")),
        ("msgspec", lambda: importlib.import_module("msgspec")),
        ("listen settings (monitor.config.settings, defaults built)", build_settings),
        ("listen CLI (monitor.cli, the listen subcommand only)",
         lambda: importlib.import_module("monitor.cli").build_parser(load=("listen",))),
        ("sounddevice + PortAudio (ALSA/PulseAudio plugins)",
         lambda: importlib.import_module("sounddevice")),
        ("MQTT (paho, sqlite outbox)", lambda: importlib.import_module("monitor.mqtt.sink")),
        ("model session + first window", load_and_score),
    ]
    out = {"interpreter": _rss_mb()}
    for name, step in steps:
        before = _rss_mb()
        step()
        out[name] = _rss_mb() - before
    return {"mb": out, "total_mb": _rss_mb()}
