"""What the broker sends the monitor, made hostile: a retained oversize message on
``homeassistant/status``, a burst of ``online``, a port that never answers CONNACK."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import monitor.mqtt.sink as mqtt_sink

TESTS = Path(__file__).resolve().parent
HA_STATUS = "homeassistant/status"
CONFIGS = "homeassistant/+/+/+/config"
N_CONFIGS = 10  # discovery configs per device (monitoring switch and "coughs last night" included)
BIG_BYTES = 32 * 1024 * 1024

DRIVER = """
import json, logging, sys
from pathlib import Path
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
from monitor.mqtt.settings import MqttSettings
from monitor.mqtt.sink import make_mqtt_sink

def peak_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

port, state, protocol = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
settings = MqttSettings(host="127.0.0.1", port=port, protocol=protocol, ha_discovery=True,
                        reconnect_min_s=1, reconnect_max_s=1, flush_timeout_s=1)
before = peak_kb()
sink = make_mqtt_sink(settings, None, "dev1", state)
print("connected" if sink.publisher.wait_connected(10) else "not connected", flush=True)
sys.stdin.readline()
print(json.dumps({"grew_kb": peak_kb() - before, "connected": sink.publisher.connected,
                  "ignored": getattr(sink.publisher, "ignored_incoming", None)}), flush=True)
sink.close()
"""


def publish(port: int, topic: str, *args: str, stdin: bytes | None = None) -> None:
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, *args],
                   input=stdin, check=True, capture_output=True, timeout=60)


def count_configs(messages) -> int:
    return sum(m.topic.endswith("/config") for m in messages)


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_retained_oversize_message_is_never_held_in_memory(
        protocol, mosquitto, subscriber_factory, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * BIG_BYTES)
    publish(mosquitto.port, HA_STATUS, "-r", "-q", "1", "-f", str(big))
    sub = subscriber_factory(mosquitto, [CONFIGS])
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(mosquitto.port), str(tmp_path / "state"), protocol],
        cwd=TESTS.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        assert driver.stdout is not None and driver.stdin is not None
        assert driver.stdout.readline().strip() == "connected"
        sub.wait_for(lambda ms: count_configs(ms) >= N_CONFIGS, what="discovery at connect")
        # the retained giant came first; an `online` behind it is answered once it is past
        publish(mosquitto.port, HA_STATUS, "-m", "online")
        sub.wait_for(lambda ms: count_configs(ms) >= 2 * N_CONFIGS, timeout_s=30,
                     what="discovery re-sent for the `online` behind the oversize message")
        driver.stdin.write("report\n")
        driver.stdin.flush()
        report = json.loads(driver.stdout.readline())
        log = driver.communicate(timeout=30)[1]
    finally:
        driver.kill()
    assert report["connected"], log
    assert report["grew_kb"] < BIG_BYTES // 1024 // 2, (report, log)
    ignored = [line for line in log.splitlines() if "ignored an incoming" in line]
    assert len(ignored) == (1 if protocol == "3.1.1" else 0), log  # MQTT 5: the broker keeps it
    assert "Traceback" not in log


def test_a_burst_of_online_messages_gets_two_answers_not_thousands(
        mosquitto, subscriber_factory, sink_factory, monkeypatch, caplog):
    monkeypatch.setattr(mqtt_sink, "HA_RESEND_MIN_INTERVAL_S", 1.0, raising=False)
    caplog.set_level(logging.INFO, logger="monitor.mqtt.sink")
    sub = subscriber_factory(mosquitto, [CONFIGS])
    sink_factory(mosquitto, ha_discovery=True)
    sub.wait_for(lambda ms: count_configs(ms) >= N_CONFIGS, what="discovery at connect")
    began = time.monotonic()
    publish(mosquitto.port, HA_STATUS, "-l", stdin=b"online\n" * 5000)
    burst_s = time.monotonic() - began
    time.sleep(2.5)  # past the interval: the trailing answer has gone out
    resends = [r for r in caplog.records if "re-sending discovery" in r.message]
    most = 2 + int(burst_s / 1.0)  # one at once, then at most one per interval
    assert 2 <= len(resends) <= most, (len(resends), burst_s)
    assert count_configs(sub.messages) == N_CONFIGS * (1 + len(resends))


def silent_server() -> tuple[socket.socket, int]:
    """A TCP port that accepts connections and never says a word (not an MQTT broker)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return server, int(server.getsockname()[1])


def wait_for_log(caplog: pytest.LogCaptureFixture, words: str, timeout_s: float) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [r.message for r in caplog.records if words in r.message]
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"no log line with {words!r} within {timeout_s} s: {caplog.text}")


def test_a_port_that_never_answers_connack_is_logged(sink_factory, mosquitto, caplog):
    server, port = silent_server()
    mosquitto.port = port  # the sink factory connects to broker.port
    try:
        sink = sink_factory(mosquitto, keepalive_s=5)
        (line, *_) = wait_for_log(caplog, "no answer (CONNACK)", timeout_s=12)
        assert f"127.0.0.1:{port}" in line and "within 5 s" in line
        assert not sink.publisher.connected
    finally:
        server.close()


def test_plain_tcp_to_a_tls_port_is_logged(broker_factory, tls_files, sink_factory, caplog):
    tls_broker = broker_factory(tls=tls_files)
    sink_factory(tls_broker)
    (line, *_) = wait_for_log(caplog, "closed the connection before accepting it", timeout_s=10)
    assert "TLS" in line
