"""Fixtures: the real `cough-monitor listen` daemon as a subprocess, and a cough bout WAV.

``listen_factory(*args, env=None)`` starts it with the energy model, a private
state directory, 1 s stats and a NOTIFY_SOCKET bound by the test (1 s watchdog);
the caller adds the audio input (``--input-device pulse`` or ``--input URL``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from fx_notify import NotifySocket

from train.synth import cough_burst

RATE_HZ = 16000
CLI = [sys.executable, "-c", "import sys; from monitor.cli import main; sys.exit(main())"]


class Daemon:
    """A running `cough-monitor listen` with its stdout and stderr collected."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen([*CLI, "listen", *args], env=env, cwd=cwd, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        for stream, sink in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            threading.Thread(target=lambda s=stream, k=sink: k.extend(s), daemon=True).start()

    def events(self) -> list[dict]:
        return [json.loads(line) for line in list(self.stdout)]

    def wait_events(self, n: int, timeout_s: float = 15.0) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while len(self.stdout) < n:
            if time.monotonic() > deadline:
                pytest.fail(f"{len(self.stdout)} event(s), not {n}, within {timeout_s} s:\n"
                            f"{self.log()}")
            time.sleep(0.05)
        return self.events()

    def wait_log(self, text: str, timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.log():
            if time.monotonic() > deadline:
                pytest.fail(f"no {text!r} in the log within {timeout_s} s:\n{self.log()}")
            time.sleep(0.05)

    def stop(self, signum: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.proc.wait(timeout=timeout_s)

    def log(self) -> str:
        return "".join(self.stderr)


class Notify(NotifySocket):
    """The notify socket, failing the test when an expected message does not come."""

    def wait_for(self, key: str, value: str | None = None, since: float = 0.0,
                 timeout_s: float = 15.0) -> float:
        found = self.first(key, value, since, timeout_s)
        if found is None:
            pytest.fail(f"no {key}={value or '*'} within {timeout_s} s; got {self.messages[-20:]}")
        return found


@pytest.fixture
def notify() -> Iterator[Notify]:
    listener = Notify()
    yield listener
    listener.close()


@pytest.fixture
def listen_factory(notify: Notify, energy_model: Path, tmp_path: Path
                   ) -> Iterator[Callable[..., Daemon]]:
    """``start(*args, env=None, broker=None)`` -> a running :class:`Daemon`; killed at teardown."""
    started: list[Daemon] = []

    def start(*extra: str, env: dict[str, str] | None = None, broker: object = None) -> Daemon:
        import os

        args = ["--model", str(energy_model), "--device-id", "livetest", "--state-dir",
                str(tmp_path / "state"), "--stats-interval-s", "1", *extra]
        if broker is not None:
            args += ["--mqtt-host", "127.0.0.1", "--mqtt-port", str(broker.port)]  # type: ignore[attr-defined]
        full_env = dict(os.environ, NOTIFY_SOCKET=notify.address, WATCHDOG_USEC="1000000",
                        **(env or {}))
        daemon = Daemon(args, full_env, tmp_path)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait()


def cough_bout(rng: np.random.Generator, lead_s: float = 0.5, tail_s: float = 1.5) -> np.ndarray:
    """Silence, three cough-like bursts 0.3 s apart, silence (16 kHz float32)."""
    audio = np.zeros(int((lead_s + 0.9 + tail_s) * RATE_HZ), dtype=np.float32)
    for k in range(3):
        burst = cough_burst(rng, RATE_HZ)
        start = int((lead_s + 0.3 * k) * RATE_HZ)
        audio[start: start + len(burst)] += burst
    return np.clip(audio, -1, 1)


@pytest.fixture
def cough_bout_wav(tmp_path: Path) -> Path:
    """0.5 s silence, a bout of three cough-like bursts, 1.5 s silence (16 kHz mono WAV)."""
    path = tmp_path / "cough.wav"
    soundfile.write(path, cough_bout(np.random.default_rng(7)), RATE_HZ)
    return path
