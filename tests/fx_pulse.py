"""Fixture: a real PulseAudio server whose null sink is the "microphone".

``pulse`` starts ``pulseaudio`` with its own runtime dir and HOME (short paths
under /tmp: a unix socket path must stay under 108 bytes), a null sink
``vsink`` at 16 kHz mono, ``vsink.monitor`` as the default source and a
``pacat </dev/zero`` keep-alive so the sink runs and recording starts at once.
Whatever ``paplay --device=vsink`` plays is what the sounddevice device
``pulse`` (and ``default``) records in a process started with :attr:`env`.
The server can be killed and started again on the same socket.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SINK = "vsink"
RATE_HZ = 16000
START_TIMEOUT_S = 10.0


class PulseServer:
    """One pulseaudio daemon plus its keep-alive player."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runtime_dir = root / "rt"
        self.home = root / "home"
        self.log_path = root / "pulse.log"
        self.socket = self.runtime_dir / "pulse" / "native"
        self.runtime_dir.mkdir(mode=0o700, exist_ok=True)
        self.home.mkdir(exist_ok=True)
        self._server: subprocess.Popen[bytes] | None = None
        self._keepalive: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """Environment for clients of this server (sounddevice, pactl, paplay)."""
        env = dict(os.environ)
        env.update(
            XDG_RUNTIME_DIR=str(self.runtime_dir),
            HOME=str(self.home),
            PULSE_SERVER=f"unix:{self.socket}",
        )
        return env

    def start(self) -> None:
        """Start the server (again) and wait until it answers; then the keep-alive."""
        cmd = [
            "pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n",
            "--load=module-native-protocol-unix",
            f"--load=module-null-sink sink_name={SINK} rate={RATE_HZ} channels=1",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self._server = subprocess.Popen(
                cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self._wait_ready()
        self.pactl("set-default-source", f"{SINK}.monitor")
        with open("/dev/zero", "rb") as zeros:  # endless silence keeps the sink running
            self._keepalive = subprocess.Popen(
                ["pacat", "--playback", "--raw", "--format=s16le", f"--rate={RATE_HZ}",
                 "--channels=1", "--latency-msec=20", f"--device={SINK}"],
                env=self.env, stdin=zeros, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        self._wait_audio_flowing()

    def kill(self) -> None:
        """Kill the server like a crash (SIGKILL); the keep-alive goes with it."""
        for proc in (self._server, self._keepalive):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=5)
        self._server = self._keepalive = None
        if self.socket.exists():
            self.socket.unlink()

    def stop(self) -> None:
        """Terminate everything (fixture teardown)."""
        for proc in (self._keepalive, self._server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._server = self._keepalive = None

    def pactl(self, *args: str) -> str:
        """Run ``pactl`` against this server; return its stdout."""
        done = subprocess.run(
            ["pactl", *args], env=self.env, capture_output=True, text=True, timeout=10
        )
        if done.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def play(self, wav: Path, wait: bool = True) -> subprocess.Popen[bytes]:
        """``paplay --device=vsink wav``: what the microphone hears."""
        proc = subprocess.Popen(
            ["paplay", f"--device={SINK}", str(wav)], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        if wait:
            _, err = proc.communicate(timeout=60)
            if proc.returncode != 0:
                raise RuntimeError(f"paplay {wav}: {err.decode(errors='replace').strip()}")
        return proc

    def _wait_audio_flowing(self) -> None:
        """Block until a recorder gets audio: a fresh server takes ~1.7 s to deliver any."""
        recorder = subprocess.Popen(
            ["parec", "--raw", "--format=s16le", f"--rate={RATE_HZ}", "--channels=1",
             "--latency-msec=20", f"--device={SINK}.monitor"],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert recorder.stdout is not None
            ready, _, _ = select.select([recorder.stdout], [], [], START_TIMEOUT_S)
            if not ready or not recorder.stdout.read(2):
                raise RuntimeError("PulseAudio started but delivers no audio")
        finally:
            recorder.kill()
            recorder.wait()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._server is not None and self._server.poll() is not None:
                break
            if self.socket.exists():
                try:
                    self.pactl("info")
                    return
                except RuntimeError:
                    pass
            time.sleep(0.05)
        log = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"pulseaudio did not start:\n{log}")


@pytest.fixture
def pulse() -> Iterator[PulseServer]:
    """A running PulseAudio null-sink "microphone" (skips when PulseAudio is missing)."""
    for tool in ("pulseaudio", "pactl", "pacat", "paplay", "parec"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (apt install pulseaudio pulseaudio-utils)")
    root = Path(tempfile.mkdtemp(prefix="cwpa-", dir="/tmp"))
    server = PulseServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
