"""The topic layout under one prefix (default ``coughwatch/<device_id>``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ONLINE: Final = "online"
OFFLINE: Final = "offline"
STATE_ON: Final = "ON"
STATE_OFF: Final = "OFF"


@dataclass(frozen=True)
class Topics:
    """Topic names; see docs/mqtt.md for payloads."""

    prefix: str

    @property
    def status(self) -> str:
        """``online``/``offline``, retained; ``offline`` is also the last will."""
        return f"{self.prefix}/status"

    @property
    def event(self) -> str:
        """One JSON event per message, QoS 1, not retained."""
        return f"{self.prefix}/event"

    @property
    def state(self) -> str:
        """``ON`` while a cough bout is active, else ``OFF`` (retained)."""
        return f"{self.prefix}/state"

    @property
    def stats(self) -> str:
        """Periodic statistics JSON (retained)."""
        return f"{self.prefix}/stats"

    @property
    def command(self) -> str:
        """Pause command, subscribed: ``ON`` = monitoring on, ``OFF`` = paused (send it retained)."""
        return f"{self.prefix}/set"

    @property
    def monitoring(self) -> str:
        """The pause state in force: ``ON`` (monitoring) or ``OFF`` (paused), retained."""
        return f"{self.prefix}/monitoring"
