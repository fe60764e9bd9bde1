"""Username/password and TLS against a real mosquitto; refused credentials and TLS failures."""

from __future__ import annotations

import logging
import threading

import pytest
from fx_mosquitto import event_ids, make_event, make_password_file

from monitor.errors import ConfigError
from monitor.mqtt.settings import TlsSettings

EVENT = "coughwatch/dev1/event"


class LogWatch(logging.Handler):
    """Collects log messages from every thread; ``wait`` blocks until enough match."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._cond = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._cond:
            self.lines.append(record.getMessage())
            self._cond.notify_all()

    def wait(self, text: str, count: int = 1, timeout_s: float = 10.0) -> list[str]:
        def matching() -> list[str]:
            return [line for line in self.lines if text in line]
        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout_s):
                pytest.fail(f"no {count} log line(s) with {text!r} in {timeout_s} s: {self.lines}")
            return matching()


@pytest.fixture
def logs():
    watch = LogWatch()
    logger = logging.getLogger("monitor.mqtt")
    logger.addHandler(watch)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    yield watch
    logger.removeHandler(watch)
    logger.setLevel(old_level)


@pytest.fixture
def password_broker(broker_factory, tmp_path):
    return broker_factory(password_file=make_password_file(tmp_path / "passwd", {"alice": "right"}))


def test_username_and_password_from_a_file(password_broker, subscriber_factory, sink_factory, tmp_path):
    (tmp_path / "pw").write_text("right\n")
    sub = subscriber_factory(password_broker, [EVENT], extra=["-u", "alice", "-P", "right"])
    sink = sink_factory(password_broker, username="alice", password_file=tmp_path / "pw")
    sink.bout_ended(make_event(0))
    assert event_ids(sub.wait_count(EVENT, 1)) == [make_event(0).event_id]


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_wrong_password_is_logged_retried_and_never_connected(
        password_broker, sink_factory, logs, monkeypatch, protocol):
    monkeypatch.setenv("CW_TEST_PW", "wrong")
    sink = sink_factory(password_broker, username="alice", password_env="CW_TEST_PW",
                        protocol=protocol, flush_timeout_s=0)
    sink.bout_ended(make_event(0))
    refused = logs.wait("refused the connection", count=2)  # the first try and a retry
    assert "check the MQTT username and password" in refused[0]
    assert "wrong" not in " ".join(logs.lines)  # the password is never logged
    assert not sink.publisher.connected
    assert not any("connected to" in line for line in logs.lines)
    sink.close()
    assert sink.undelivered == 1  # kept for the next run


def test_tls_with_a_ca_made_here(broker_factory, tls_files, subscriber_factory, sink_factory):
    broker = broker_factory(tls=tls_files)
    sub = subscriber_factory(broker, [EVENT], extra=["--cafile", str(tls_files.ca_cert)])
    sink = sink_factory(broker, tls=TlsSettings(ca_file=tls_files.ca_cert))
    sink.bout_ended(make_event(0))
    assert event_ids(sub.wait_count(EVENT, 1)) == [make_event(0).event_id]


def test_tls_with_the_wrong_ca_is_a_clear_logged_failure(
        broker_factory, tls_files, sink_factory, logs):
    broker = broker_factory(tls=tls_files)
    sink = sink_factory(broker, tls=TlsSettings(ca_file=tls_files.other_ca_cert), flush_timeout_s=0)
    logs.wait("TLS certificate verification failed", count=2)
    assert not sink.publisher.connected


def test_plain_client_against_a_dead_port_retries(mosquitto, sink_factory, logs):
    mosquitto.stop()
    sink = sink_factory(mosquitto, flush_timeout_s=0)
    logs.wait("connection refused", count=2)
    assert not sink.publisher.connected


def test_missing_tls_file_is_a_config_error(mosquitto, sink_factory, tmp_path):
    with pytest.raises(ConfigError, match="missing.pem"):
        sink_factory(mosquitto, tls=TlsSettings(ca_file=tmp_path / "missing.pem"))
