"""sd_notify(3) in pure Python: tell systemd we are ready, alive, or stopping.

No systemd library is needed and nothing happens when ``$NOTIFY_SOCKET`` is
unset (running by hand, under a test, or under another supervisor). The
protocol is one AF_UNIX datagram of newline-separated ``KEY=VALUE`` lines sent
to the socket systemd names in ``$NOTIFY_SOCKET``; a leading ``@`` means a
Linux abstract socket name (first byte NUL).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from typing import Final

log = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV: Final = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV: Final = "WATCHDOG_USEC"
WATCHDOG_PID_ENV: Final = "WATCHDOG_PID"
STATUS_MAX_CHARS: Final = 200
"""systemd shows STATUS= in one line of `systemctl status`; keep it short."""


def socket_address(value: str) -> str | bytes:
    """Translate a ``$NOTIFY_SOCKET`` value into an address for ``sendto``.

    ``@name`` becomes the abstract name ``b"\\0name"``; anything else is a path.
    """
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return value


def watchdog_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half of ``$WATCHDOG_USEC``), or None.

    None when the watchdog is off, the value is unusable, or ``$WATCHDOG_PID``
    names another process (the variable was inherited, not meant for us).
    """
    env = os.environ if environ is None else environ
    usec_text = env.get(WATCHDOG_USEC_ENV, "")
    pid_text = env.get(WATCHDOG_PID_ENV, "")
    if pid_text and pid_text != str(os.getpid()):
        return None
    try:
        usec = int(usec_text)
    except ValueError:
        return None
    return usec / 2e6 if usec > 0 else None


class Notifier:
    """Sends sd_notify messages; every method is a no-op without ``$NOTIFY_SOCKET``.

    Sending never raises: a notification that cannot be delivered is logged
    once at warning level (the daemon must keep listening regardless).
    """

    def __init__(self, address: str | None = None) -> None:
        """``address``: a ``$NOTIFY_SOCKET`` value; default: read the environment."""
        value = os.environ.get(NOTIFY_SOCKET_ENV, "") if address is None else address
        self._address = socket_address(value) if value else None
        self._sock: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        """True when a notify socket is configured."""
        return self._address is not None

    def send(self, **fields: str) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram; return True when delivered."""
        if self._address is None or not fields:
            return False
        payload = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            if not self._warned:
                log.warning("sd_notify to %r failed: %s", self._address, exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1`` (plus ``STATUS=`` when given): start-up is complete."""
        fields = {"READY": "1"}
        if status:
            fields["STATUS"] = _short(status)
        return self.send(**fields)

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: the service is alive and doing its job."""
        return self.send(WATCHDOG="1")

    def status(self, text: str) -> bool:
        """``STATUS=<text>``: a one-line live summary for `systemctl status`."""
        return self.send(STATUS=_short(text))

    def reloading(self) -> bool:
        """``RELOADING=1``: configuration reload started (follow with :meth:`ready`)."""
        return self.send(RELOADING="1")

    def stopping(self, status: str | None = None) -> bool:
        """``STOPPING=1``: shutdown has begun."""
        fields = {"STOPPING": "1"}
        if status:
            fields["STATUS"] = _short(status)
        return self.send(**fields)

    def close(self) -> None:
        """Release the socket (further sends reopen it)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _short(text: str) -> str:
    """One line, at most :data:`STATUS_MAX_CHARS` characters."""
    line = " ".join(text.split())
    return line[:STATUS_MAX_CHARS]
