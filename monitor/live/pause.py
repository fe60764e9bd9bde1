"""The privacy pause: whether ``listen`` scores audio at all.

Monitoring is ``ON`` (listening, the default) or ``OFF`` (paused). While paused
the worker still reads the audio input, so stalls are noticed and the systemd
watchdog is fed, but every block is dropped at once: nothing is scored,
measured, stored or sent. An open bout is closed (its event goes out) when the
pause begins. ``status`` stays ``online`` and ``stats`` says ``"paused": true``.

Two things set it; the later one wins:

* the ``paused`` key of the config: at start, and on a reload (SIGHUP) that
  *changes* it;
* an MQTT command on ``<prefix>/set``: ``ON`` resumes, ``OFF`` pauses. The
  command is meant to be retained by the broker, so a pause survives a restart
  of the monitor. A retained copy that the broker sends again after a
  reconnect is applied only if it differs from the last command seen, so it
  cannot undo a newer config change.

Anything else on the command topic (other words, more than
:data:`MAX_COMMAND_BYTES` bytes, not UTF-8) is ignored and logged once; an
empty message (clearing the retained command) is ignored silently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

log = logging.getLogger(__name__)

MONITORING_ON: Final = "ON"
"""Monitoring on: listening and scoring."""
MONITORING_OFF: Final = "OFF"
"""Monitoring off: paused, audio dropped."""
MAX_COMMAND_BYTES: Final = 16
"""Longer command payloads are ignored unread."""

Listener = Callable[[bool], None]
"""Called with the new ``paused`` value after every change (from the thread that made it)."""


class PauseControl:
    """The pause state, shared by the worker (reads it per block) and paho's thread (commands)."""

    def __init__(self, paused: bool = False) -> None:
        self._lock = threading.Lock()
        self._paused = paused
        self._by = "config"
        self._last_command: str | None = None
        self._warned = False
        self._listener: Listener | None = None

    @property
    def paused(self) -> bool:
        """True while monitoring is off."""
        with self._lock:
            return self._paused

    @property
    def set_by(self) -> str:
        """What set the current state: ``"config"`` or ``"MQTT command"``."""
        with self._lock:
            return self._by

    @property
    def payload(self) -> str:
        """The state as the switch shows it: ``ON`` (monitoring) or ``OFF`` (paused)."""
        return MONITORING_OFF if self.paused else MONITORING_ON

    def on_change(self, listener: Listener | None) -> None:
        """Call ``listener`` after each change (replaces the previous one; None removes it)."""
        with self._lock:
            self._listener = listener

    def config_changed(self, old_paused: bool, new_paused: bool) -> None:
        """A reload: a changed ``paused`` key sets the state."""
        if old_paused != new_paused:
            self._set(new_paused, "config")

    def command(self, payload: bytes, retained: bool = False) -> bool:
        """An MQTT command; returns whether it was applied (False: ignored)."""
        if not payload.strip():  # clearing the retained command (publish -r -n): no command
            log.debug("pause: empty command ignored")
            return False
        word = _parse(payload)
        if word is None:
            self._warn_once(payload)
            return False
        with self._lock:
            self._warned = False
            repeated = retained and word == self._last_command
            self._last_command = word
        if repeated:
            log.debug("pause: retained command %s seen again after a reconnect: ignored", word)
            return False
        self._set(word == MONITORING_OFF, "MQTT command")
        return True

    def _set(self, paused: bool, by: str) -> None:
        with self._lock:
            changed = paused != self._paused
            self._paused, self._by = paused, by
            listener = self._listener
        if changed:
            log.warning("monitoring %s (%s)%s", "paused" if paused else "resumed", by,
                        ": audio is dropped, nothing is scored" if paused else "")
        if listener is not None:
            listener(paused)

    def _warn_once(self, payload: bytes) -> None:
        with self._lock:
            warned, self._warned = self._warned, True
        if not warned:
            shown = f"{len(payload)} bytes" if len(payload) > MAX_COMMAND_BYTES else repr(payload)
            log.warning("pause: ignoring a command that is neither %s nor %s (%s); further ones "
                        "are ignored silently until a valid one arrives",
                        MONITORING_ON, MONITORING_OFF, shown)  # fmt: skip


def _parse(payload: bytes) -> str | None:
    """``ON``/``OFF`` (any case, surrounding white space allowed), else None."""
    if len(payload) > MAX_COMMAND_BYTES:
        return None
    try:
        word = payload.decode("utf-8").strip().upper()
    except UnicodeDecodeError:
        return None
    return word if word in (MONITORING_ON, MONITORING_OFF) else None
