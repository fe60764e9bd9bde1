"""A stand-in for systemd's end of sd_notify: an abstract AF_UNIX datagram socket.

Used by the live tests and by ``bench/`` (through ``bench.testhelpers``).
"""

from __future__ import annotations

import socket
import threading
import time
import uuid


class NotifySocket:
    """What systemd would receive: sd_notify datagrams on an abstract socket, timestamped."""

    def __init__(self, prefix: str = "coughwatch-test") -> None:
        self.address = f"@{prefix}-{uuid.uuid4().hex}"
        """Value for ``NOTIFY_SOCKET``."""
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(b"\0" + self.address[1:].encode())
        self.messages: list[tuple[float, dict[str, str]]] = []
        """(``time.monotonic()``, fields) of every datagram, in arrival order."""
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = self._sock.recv(4096).decode(errors="replace")
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
            with self._cond:
                self.messages.append((time.monotonic(), fields))
                self._cond.notify_all()

    def times(self, key: str, value: str | None = None, since: float = 0.0,
              exact: bool = False) -> list[float]:
        """Arrival times of datagrams with ``key`` (whose value equals, or with
        ``exact=False`` contains, ``value``) at or after ``since``."""
        with self._cond:
            return [t for t, f in self.messages if t >= since and key in f and (
                value is None or (f[key] == value if exact else value in f[key]))]

    def first(self, key: str, value: str | None = None, since: float = 0.0,
              timeout_s: float = 15.0, exact: bool = False) -> float | None:
        """Wait for the first matching datagram; its time, or None on timeout."""
        with self._cond:
            self._cond.wait_for(lambda: self.times(key, value, since, exact), timeout_s)
        found = self.times(key, value, since, exact)
        return found[0] if found else None

    def close(self) -> None:
        self._sock.close()
