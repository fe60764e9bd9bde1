"""sd_notify over a real AF_UNIX datagram socket (path and abstract names)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.live.sdnotify import STATUS_MAX_CHARS, Notifier, socket_address, watchdog_interval_s


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = str(tmp_path / "notify.sock")
    sock.bind(address)
    sock.settimeout(2)
    yield address, sock
    sock.close()


def receive(sock: socket.socket) -> dict[str, str]:
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.splitlines())


def test_ready_status_watchdog_stopping_arrive_as_datagrams(path_socket):
    address, sock = path_socket
    notifier = Notifier(address)
    assert notifier.enabled
    assert notifier.ready("listening")
    assert receive(sock) == {"READY": "1", "STATUS": "listening"}
    assert notifier.watchdog()
    assert receive(sock) == {"WATCHDOG": "1"}
    assert notifier.status("two\nlines")
    assert receive(sock) == {"STATUS": "two lines"}
    assert notifier.reloading()
    assert receive(sock) == {"RELOADING": "1"}
    assert notifier.stopping()
    assert receive(sock) == {"STOPPING": "1"}
    notifier.close()


def test_abstract_socket_names_start_with_at():
    name = f"coughwatch-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2)
    try:
        assert socket_address("@" + name) == b"\0" + name.encode()
        assert Notifier("@" + name).ready()
        assert receive(sock) == {"READY": "1"}
    finally:
        sock.close()


def test_status_is_one_short_line(path_socket):
    address, sock = path_socket
    Notifier(address).status("x" * 1000)
    assert len(receive(sock)["STATUS"]) == STATUS_MAX_CHARS


def test_reads_notify_socket_from_environment(path_socket, monkeypatch):
    address, sock = path_socket
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    assert Notifier().watchdog()
    assert receive(sock) == {"WATCHDOG": "1"}


def test_without_notify_socket_everything_is_a_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    assert not notifier.enabled
    assert not notifier.ready()
    assert not notifier.watchdog()


def test_unreachable_socket_does_not_raise(tmp_path, caplog):
    notifier = Notifier(str(tmp_path / "nobody-listens.sock"))
    assert not notifier.ready()
    assert not notifier.watchdog()
    assert sum("sd_notify" in r.message for r in caplog.records) == 1  # warned once


@pytest.mark.parametrize(
    ("env", "expected_s"),
    [
        ({"WATCHDOG_USEC": "1000000"}, 0.5),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(env, expected_s):
    assert watchdog_interval_s(env) == expected_s
