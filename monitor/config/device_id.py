"""The device id: the monitor's name in events, event ids and MQTT topics.

It becomes one MQTT topic level (``coughwatch/<device_id>/event``) and the
last-will topic, so a ``/``, ``+``, ``#``, a space or a control character in it
would make topics the broker refuses, or that can never be published. Every
command checks it once, before anything is stored or sent.
"""

from __future__ import annotations

import re
from typing import Final

from monitor.errors import ConfigError
from monitor.scoring.context import default_device_id

DEVICE_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z"
"""1 to 64 letters, digits, ``_``, ``.``, ``-``, starting with a letter or digit.
``\\Z``, not ``$``: ``$`` also matches before a trailing newline."""
_VALID: Final = re.compile(DEVICE_ID_PATTERN)
RULE: Final = "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"


def is_valid_device_id(value: str) -> bool:
    """True when ``value`` can be a device id (and so an MQTT topic level)."""
    return _VALID.search(value) is not None


def resolve_device_id(given: str | None, flag: str = "--device-id") -> str:
    """``given``, else the host name; raises :class:`ConfigError` (one line) when unusable."""
    if given is not None:
        if not is_valid_device_id(given):
            raise ConfigError(f"{flag} {given!r}: a device id must be {RULE} "
                              "(it becomes an MQTT topic level)")
        return given
    host = default_device_id()
    if not is_valid_device_id(host):
        raise ConfigError(f"the host name {host!r} is not usable as a device id ({RULE}); "
                          f"give one with {flag}")
    return host
