"""Running an action at most once per interval, without losing the last request.

Home Assistant says ``online`` on ``homeassistant/status`` when it starts;
anyone else can say it 5,000 times a second. The discovery re-send runs at
once for the first request, and requests within the next ``interval_s``
coalesce into one more run when it is over, so the last ``online`` is still
answered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Coalescing:
    """Calls ``action`` now, or once at the end of the current interval; thread-safe."""

    def __init__(self, action: Callable[[], None], interval_s: float) -> None:
        self._action = action
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._last_run = -float("inf")
        self._timer: threading.Timer | None = None
        self._closed = False

    def request(self) -> bool:
        """Ask for a run; True when it ran now, False when it was folded into a later one."""
        with self._lock:
            if self._closed:
                return False
            wait_s = self._last_run + self.interval_s - time.monotonic()
            if wait_s > 0:
                if self._timer is None:
                    self._timer = threading.Timer(wait_s, self._deferred)
                    self._timer.daemon = True
                    self._timer.start()
                return False
            self._last_run = time.monotonic()
        self._action()
        return True

    def close(self) -> None:
        """Cancel a pending run; later requests do nothing."""
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _deferred(self) -> None:
        with self._lock:
            self._timer = None
            if self._closed:
                return
            self._last_run = time.monotonic()
        self._action()
