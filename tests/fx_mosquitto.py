"""Fixtures: a real mosquitto broker per test and ``mosquitto_sub`` as a real subscriber.

The broker runs as a subprocess on a free loopback port with its config,
persistence and log in a temp dir; it can be stopped (SIGTERM: it saves its
persistent sessions) and started again on the same port for outage tests.
Optional: a password file (``mosquitto_passwd``) and a TLS listener.

``Subscriber`` wraps ``mosquitto_sub -F '%r %q %t %p'`` (retain flag, QoS,
topic, payload per line) with a persistent session (``-c -i ID``, QoS 1):
messages published while it is away reconnecting after a broker restart are
kept for it by the broker. Waits are event-driven with timeouts.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest

from monitor.config.structs import settings_from
from monitor.mqtt.settings import MqttSettings
from monitor.mqtt.sink import MqttSink, make_mqtt_sink
from monitor.output.events import CoughEvent, stable_event_id

READY_TIMEOUT_S = 5.0
STREAM_START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TlsFiles:
    """A CA and a server certificate for 127.0.0.1/localhost signed by it (PEM files)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    other_ca_cert: Path
    """A second CA that did not sign the server certificate (for failure tests)."""


class Broker:
    """One mosquitto process; ``start``/``stop``/``kill`` keep the same port and data."""

    def __init__(self, workdir: Path, password_file: Path | None = None,
                 tls: TlsFiles | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.tls = tls
        self.log_path = workdir / "mosquitto.log"
        self.conf = workdir / "mosquitto.conf"
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        self.conf.write_text(self._config(password_file))
        self.proc: subprocess.Popen[bytes] | None = None

    def _config(self, password_file: Path | None) -> str:
        lines = [f"listener {self.port} 127.0.0.1", "persistence true",
                 f"persistence_location {self.workdir / 'data'}/", "log_type all",
                 f"log_dest file {self.log_path}", "set_tcp_nodelay true"]
        if os.geteuid() == 0:
            lines.append("user root")
        if password_file is not None:
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls is not None:
            lines += [f"cafile {self.tls.ca_cert}", f"certfile {self.tls.server_cert}",
                      f"keyfile {self.tls.server_key}"]
        return "\n".join(lines) + "\n"

    def start(self) -> Broker:
        """Start mosquitto and wait until its port accepts connections."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.proc.stderr.read().decode()}{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.01)
        raise RuntimeError(f"mosquitto not ready on port {self.port}: {self.log()}")

    def stop(self) -> None:
        """SIGTERM (persistent sessions and retained messages are saved) and wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass(frozen=True)
class Received:
    """One message as ``mosquitto_sub`` printed it."""

    retained: bool
    qos: int
    topic: str
    payload: str
    arrived_s: float = 0.0
    """``time.monotonic()`` when the line was read."""


@dataclass
class Subscriber:
    """A running ``mosquitto_sub``; ``messages`` grows as lines arrive."""

    proc: subprocess.Popen[str]
    messages: list[Received] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            retained, qos, topic, payload = line.rstrip("\n").split(" ", 3)
            with self._cond:
                self.messages.append(
                    Received(retained == "1", int(qos), topic, payload, time.monotonic()))
                self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout_s: float = 10.0,
                 what: str = "messages") -> list[Received]:
        """Block until ``predicate(messages)`` holds; fail the test after ``timeout_s``."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.messages), timeout_s):
                pytest.fail(f"timed out after {timeout_s} s waiting for {what}; got "
                            f"{[(m.topic, m.payload[:60]) for m in self.messages]}")
            return list(self.messages)

    def on(self, topic: str) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_count(self, topic: str, n: int, timeout_s: float = 10.0) -> list[Received]:
        """Wait for at least ``n`` messages on ``topic`` and return those."""
        self.wait_for(lambda ms: sum(m.topic == topic for m in ms) >= n, timeout_s,
                      f"{n} message(s) on {topic}")
        return self.on(topic)


def start_subscriber(broker: Broker, topics: list[str], client_id: str,
                     extra: list[str] | None = None) -> Subscriber:
    """Start ``mosquitto_sub`` and return once it is subscribed (a probe came through)."""
    probe = f"probe/{client_id}"
    cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-c",
           "-i", client_id, "-F", "%r %q %t %p", "-t", probe, *(extra or [])]
    for topic in topics:
        cmd += ["-t", topic]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sub = Subscriber(proc)
    threading.Thread(target=sub._read, daemon=True).start()
    deadline = time.monotonic() + READY_TIMEOUT_S
    seen = lambda: any(m.topic == probe for m in sub.messages)  # noqa: E731
    while True:
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), *(extra or []),
                        "-t", probe, "-m", "probe"], check=False, capture_output=True)
        with sub._cond:
            if sub._cond.wait_for(seen, 0.2):
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"mosquitto_sub did not subscribe: {proc.communicate()[1]}")
    return sub


def make_tls_files(directory: Path) -> TlsFiles:
    """A CA, a server certificate for 127.0.0.1/localhost, and an unrelated CA (openssl)."""
    directory.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    for ca in ("ca", "other-ca"):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            f"/CN=coughwatch test {ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem")
    return TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key",
                    directory / "other-ca.pem")


def make_password_file(path: Path, users: dict[str, str]) -> Path:
    """A mosquitto password file made with ``mosquitto_passwd -b``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for user, password in users.items():
        flags = ["-b"] if path.exists() else ["-c", "-b"]
        subprocess.run(["mosquitto_passwd", *flags, str(path), user, password], check=True,
                       capture_output=True)
    if os.geteuid() == 0:
        shutil.chown(path, "root", "root")
    path.chmod(0o600)
    return path


class TcpProxy:
    """A loopback TCP relay to ``target_port`` that can withhold traffic and cut connections.

    Injects the one fault a real broker cannot: a link that dies while messages
    are in flight (sent, not acknowledged). ``hold()`` stops relaying in both
    directions; ``cut()`` closes every relayed connection and drops what was held.
    New connections are accepted (and relayed) throughout.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._cond = threading.Condition()
        self._holding = False
        self._epoch = 0  # +1 per cut: relays of an older epoch drop their data and exit
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                return
            with self._cond:
                self._socks += [client, upstream]
                epoch = self._epoch
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._relay, args=(src, dst, epoch), daemon=True).start()

    def _relay(self, src: socket.socket, dst: socket.socket, epoch: int) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            with self._cond:
                self._cond.wait_for(lambda: not self._holding or self._epoch != epoch)
                if self._epoch != epoch:
                    return
            try:
                if not data:  # end of stream: pass it on
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
            except OSError:
                return

    def hold(self) -> None:
        with self._cond:
            self._holding = True

    def cut(self) -> None:
        with self._cond:
            self._epoch += 1
            self._holding = False
            socks, self._socks = self._socks, []
            self._cond.notify_all()
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self._server.close()
        self.cut()


def make_event(index: int, device_id: str = "dev1", sample_rate: int = 16000) -> CoughEvent:
    """Cough event number ``index`` (0.4 s long, one per second of stream) with a real uuid5 id."""
    start = index * sample_rate
    event_id = stable_event_id(device_id, "test.wav", STREAM_START, "cough", start)
    return CoughEvent(event_id, device_id, "cough", start, start + int(0.4 * sample_rate),
                      sample_rate, STREAM_START, 0.93, 0.81, 3, "energy-test", "0123456789ab",
                      "test.wav")


def event_ids(messages: list[Received]) -> list[str]:
    """``event_id`` of each JSON payload, de-duplicated keeping first arrival order."""
    seen: dict[str, None] = {}
    for message in messages:
        seen.setdefault(json.loads(message.payload)["event_id"], None)
    return list(seen)


@pytest.fixture
def sink_factory(tmp_path: Path) -> Iterator[Callable[..., MqttSink]]:
    """``make(broker, state_dir=None, device_id="dev1", model=None, **settings)`` -> a started
    :class:`MqttSink` with 1 s reconnects; closed at teardown if the test did not."""
    sinks: list[MqttSink] = []

    def make(broker: Broker, state_dir: Path | None = None, device_id: str = "dev1",
             model: object = None, **fields: object) -> MqttSink:
        base: dict[str, object] = {"host": "127.0.0.1", "port": broker.port, "reconnect_min_s": 1,
                                   "reconnect_max_s": 1, "flush_timeout_s": 5}
        settings = settings_from(MqttSettings, {**base, **fields})
        sink = make_mqtt_sink(settings, model, device_id, state_dir or tmp_path / "state")  # type: ignore[arg-type]
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.flush_timeout_s = 0
        sink.close()


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    """``make(password_file=None, tls=None)`` -> a started :class:`Broker`; all killed at teardown."""
    brokers: list[Broker] = []

    def make(password_file: Path | None = None, tls: TlsFiles | None = None) -> Broker:
        broker = Broker(tmp_path / f"broker{len(brokers)}", password_file, tls)
        brokers.append(broker)
        return broker.start()

    yield make
    for broker in brokers:
        broker.kill()


@pytest.fixture
def mosquitto(broker_factory: Callable[..., Broker]) -> Broker:
    """An anonymous broker on a free loopback port."""
    return broker_factory()


@pytest.fixture
def subscriber_factory() -> Iterator[Callable[..., Subscriber]]:
    """``start(broker, topics, client_id, extra=None)`` -> a subscribed :class:`Subscriber`."""
    subs: list[Subscriber] = []

    def start(broker: Broker, topics: list[str], client_id: str = "cw-test-sub",
              extra: list[str] | None = None) -> Subscriber:
        sub = start_subscriber(broker, topics, client_id, extra)
        subs.append(sub)
        return sub

    yield start
    for sub in subs:
        sub.proc.kill()
        sub.proc.wait(timeout=5)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """CA + server certificate for 127.0.0.1 made with openssl once per session."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))
