"""The live set-up: PulseAudio null sink as the microphone, mosquitto, a subscriber, sd_notify.

Started as DESIGN.md "Real components" says, through the tests' own helpers
(``tests/fx_pulse.PulseServer``, ``tests/fx_mosquitto.Broker`` and
``start_subscriber``). :meth:`LiveRig.launch` starts the real ``cough-monitor
listen`` with ``NOTIFY_SOCKET`` bound here, ``WATCHDOG_USEC`` as the systemd
unit sets it (``WatchdogSec=30``) and MQTT pointed at the broker.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench.testhelpers import fixture_module

DEVICE_ID: Final = "bench"
PREFIX: Final = f"coughwatch/{DEVICE_ID}"
WATCHDOG_USEC: Final = "30000000"
"""``WatchdogSec=30`` of ``systemd/coughwatch.service``."""
READY_TIMEOUT_S: Final = 60.0
STOP_TIMEOUT_S: Final = 30.0


MONITOR_ENV: Final = "BENCH_MONITOR"
"""A ``cough-monitor`` script to measure instead of this environment's (not a ``COUGHWATCH_``
variable: the monitor would reject it as an unknown setting). ``make bench`` points
it at the base install in ``.venv-monitor`` (the monitor as deployed: no torch, not editable)."""


def listen_command() -> list[str]:
    """The ``cough-monitor`` to measure: ``$BENCH_MONITOR``, else this environment's
    console script, else ``python -m monitor.cli``."""
    chosen = os.environ.get(MONITOR_ENV)
    if chosen:
        return [chosen]
    script = Path(sys.executable).parent / "cough-monitor"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "monitor.cli"]


def monitor_python() -> str:
    """The Python of the measured ``cough-monitor`` (the interpreter beside its script)."""
    chosen = os.environ.get(MONITOR_ENV)
    if chosen and (Path(chosen).parent / "python").is_file():
        return str(Path(chosen).parent / "python")
    return sys.executable


def monitor_install() -> str:
    """Which install the live figures measure, for the notes."""
    chosen = os.environ.get(MONITOR_ENV)
    return f"the install of {chosen}" if chosen else "the benchmark's own environment"


def notify_socket() -> Any:
    """The tests' sd_notify stand-in (``tests/fx_notify.NotifySocket``)."""
    return fixture_module("fx_notify").NotifySocket("coughwatch-bench")


@dataclass
class Listener:
    """A running ``cough-monitor listen``."""

    proc: subprocess.Popen[bytes]
    launched_at: float
    """``time.monotonic()`` just before the process was started."""
    log_path: Path

    def stop(self) -> int:
        """SIGTERM and wait (kill after :data:`STOP_TIMEOUT_S`); returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def log_tail(self) -> str:
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return " / ".join(lines[-3:])


@dataclass
class LiveRig:
    """PulseAudio + mosquitto + a ``mosquitto_sub`` on ``coughwatch/bench/#`` + a notify socket."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cwbench-", dir="/tmp")))
    pulse: Any = None
    broker: Any = None
    subscriber: Any = None
    notify: Any = None
    listeners: list[Listener] = field(default_factory=list)

    def __enter__(self) -> LiveRig:
        for tool in ("pulseaudio", "pactl", "pacat", "paplay", "mosquitto", "mosquitto_sub"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} not installed (make system)")
        try:
            self.pulse = fixture_module("fx_pulse").PulseServer(self.root)
            self.pulse.start()
            mqtt = fixture_module("fx_mosquitto")
            self.broker = mqtt.Broker(self.root / "broker").start()
            self.subscriber = mqtt.start_subscriber(self.broker, [f"{PREFIX}/#"], "cw-bench-sub")
            self.notify = notify_socket()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for listener in self.listeners:
            listener.stop()
        if self.subscriber is not None:
            self.subscriber.proc.kill()
            self.subscriber.proc.wait()
        if self.broker is not None:
            self.broker.kill()
        if self.pulse is not None:
            self.pulse.stop()
        if self.notify is not None:
            self.notify.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def launch(self, model: Path, extra: list[str] | None = None) -> Listener:
        """Start ``cough-monitor listen`` on the null sink with MQTT and sd_notify."""
        assert self.notify is not None
        run_dir = Path(tempfile.mkdtemp(prefix="listen-", dir=self.root))
        args = ["listen", "--model", str(model), "--input-device", "pulse", "--device-id", DEVICE_ID,
                "--state-dir", str(run_dir / "state"), "--mqtt-host", "127.0.0.1",
                "--mqtt-port", str(self.broker.port), *(extra or [])]
        env = dict(self.pulse.env, NOTIFY_SOCKET=self.notify.address, WATCHDOG_USEC=WATCHDOG_USEC)
        log_path = run_dir / "listen.log"
        with log_path.open("wb") as log:
            launched = time.monotonic()
            proc = subprocess.Popen([*listen_command(), *args], env=env, stdout=subprocess.DEVNULL,
                                    stderr=log, stdin=subprocess.DEVNULL)
        listener = Listener(proc, launched, log_path)
        self.listeners.append(listener)
        return listener

    def wait_ready(self, listener: Listener) -> float:
        """Seconds from launch to ``READY=1``; raises ``RuntimeError`` with the log tail if none."""
        assert self.notify is not None
        ready = self.notify.first("READY", "1", listener.launched_at, READY_TIMEOUT_S, exact=True)
        if ready is None:
            raise RuntimeError(f"no READY=1 within {READY_TIMEOUT_S:g} s: {listener.log_tail()}")
        return ready - listener.launched_at

    def messages(self, topic: str, since: float) -> list[Any]:
        """Non-retained messages on ``coughwatch/bench/<topic>`` that arrived after ``since``."""
        return [m for m in self.subscriber.on(f"{PREFIX}/{topic}")
                if not m.retained and m.arrived_s >= since]

    def play(self, wav: Path) -> subprocess.Popen[bytes]:
        """``paplay`` ``wav`` into the null sink (what the microphone hears); returns at once."""
        return self.pulse.play(wav, wait=False)
