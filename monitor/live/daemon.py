"""The `listen` daemon's main thread: lifecycle, signals and systemd notifications.

The main thread supervises; the :class:`~monitor.live.worker.LiveWorker`
thread does the audio work. Signals arrive through a wakeup socket
(``signal.set_wakeup_fd``) so they are handled at once and synchronously:

* SIGTERM / SIGINT: ``STOPPING=1``, then the worker scores what is queued,
  closes open bouts, flushes the MQTT outbox (up to ``mqtt.flush_timeout_s``)
  and publishes ``offline``; exit status 0.
* SIGHUP: ``RELOADING=1``, re-read the config (file, environment, flags); a
  valid one is handed to the worker, an invalid one is logged and ignored;
  ``READY=1``.

``READY=1`` goes out once the model is loaded and the first audio block has
been scored. ``WATCHDOG=1`` is sent every half ``$WATCHDOG_USEC`` only while
audio blocks keep arriving and the worker is alive, so a stalled input that
the daemon cannot reopen itself ends in a restart by systemd.
"""

from __future__ import annotations

import json
import logging
import select
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from monitor.config.settings import ListenSettings
from monitor.config.sources import ConfigErrors, ConfigSources, load_settings
from monitor.errors import EXIT_FAILURE, EXIT_OK, ConfigError
from monitor.live.sdnotify import Notifier, watchdog_interval_s
from monitor.live.worker import LiveWorker
from monitor.output.sinks import EventSink

log = logging.getLogger(__name__)

TICK_S: Final = 1.0
"""Longest sleep of the supervisor (watchdog, STATUS= and worker checks)."""
STARTUP_TICK_S: Final = 0.05
"""Sleep while waiting for the first audio block, so READY=1 follows it closely."""
STOP_GRACE_S: Final = 15.0
"""Time for the worker to finish on top of the MQTT flush timeout."""
HANDLED_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclass
class _Supervision:
    ready: bool = False
    next_ping_at: float = 0.0
    status_sent: str = ""


class Daemon:
    """Runs `cough-monitor listen` until SIGTERM/SIGINT."""

    def __init__(
        self,
        sources: ConfigSources,
        settings: ListenSettings,
        local_sinks: list[EventSink],
        notifier: Notifier | None = None,
    ) -> None:
        self.sources = sources
        self.settings = settings
        self.local_sinks = local_sinks
        self.notifier = notifier or Notifier()
        self.watchdog_s = watchdog_interval_s()

    def run(self) -> int:
        """Start, supervise, stop; returns the exit status.

        Start-up problems (model, audio device, MQTT settings) raise
        :class:`~monitor.errors.CoughwatchError` before anything runs.
        """
        log.info("effective configuration: %s", json.dumps(self.settings.redacted()))
        with _SignalInbox() as inbox:
            worker = LiveWorker(self.settings, self.local_sinks)
            try:
                worker.start()
            except BaseException:
                worker.mic.close()
                raise
            failed = self._supervise(worker, inbox)
            self.notifier.stopping("stopping: flushing events")
            flush_s = self.settings.mqtt.flush_timeout_s if self.settings.mqtt else 0.0
            worker.stop(flush_s + STOP_GRACE_S)
        self.notifier.close()
        return EXIT_FAILURE if failed or worker.failure is not None else EXIT_OK

    def _supervise(self, worker: LiveWorker, inbox: _SignalInbox) -> bool:
        """Loop until a stop signal (False) or a dead worker (True)."""
        state = _Supervision()
        while True:
            for signum in inbox.wait(self._tick(state)):
                if signum == signal.SIGHUP:
                    self._reload(worker, state)
                else:
                    log.info("%s received: stopping", signal.Signals(signum).name)
                    return False
            if not worker.is_alive():
                log.error("the worker thread ended unexpectedly; exiting")
                return True
            self._notify(worker, state)

    def _tick(self, state: _Supervision) -> float:
        if not state.ready:
            return STARTUP_TICK_S
        return min(TICK_S, self.watchdog_s) if self.watchdog_s else TICK_S

    def _notify(self, worker: LiveWorker, state: _Supervision) -> None:
        status = worker.status()
        if not state.ready and worker.first_block.is_set():
            state.ready = True
            log.info("ready: model loaded, audio flowing")
            self.notifier.ready(status.summary)
        now = time.monotonic()
        if self.watchdog_s and state.ready and now >= state.next_ping_at and self._healthy(worker):
            self.notifier.watchdog()
            state.next_ping_at = now + self.watchdog_s
        if status.summary != state.status_sent:
            self.notifier.status(status.summary)
            state.status_sent = status.summary

    def _healthy(self, worker: LiveWorker) -> bool:
        """Audio arrived within the stall timeout and the worker runs."""
        status = worker.status()
        if status.last_block_at is None or not worker.is_alive():
            return False
        silent_s = time.monotonic() - status.last_block_at
        return silent_s < self.settings.audio.stall_timeout_s

    def _reload(self, worker: LiveWorker, state: _Supervision) -> None:
        log.info("SIGHUP received: reloading the configuration")
        self.notifier.reloading()
        try:
            settings = load_settings(self.sources)
        except ConfigErrors as exc:
            for line in exc.lines:
                log.error("reload rejected: %s", line)
        except ConfigError as exc:
            log.error("reload rejected: %s", exc)
        except Exception as exc:  # a reload must never end the daemon: keep what runs
            log.error("reload rejected (keeping the running configuration): %s: %s",
                      type(exc).__name__, exc)
            log.debug("reload failure", exc_info=True)
        else:
            log.info("effective configuration: %s", json.dumps(settings.redacted()))
            self.settings = settings
            worker.reload(settings)
        if state.ready:
            self.notifier.ready()


class _SignalInbox:
    """SIGTERM/SIGINT/SIGHUP delivered as numbers through a socketpair (wakeup fd)."""

    def __init__(self) -> None:
        self._read, self._write = socket.socketpair()
        self._previous: dict[int, Any] = {}
        self._previous_fd = -1

    def __enter__(self) -> _SignalInbox:
        for sock in (self._read, self._write):
            sock.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        for signum in HANDLED_SIGNALS:
            self._previous[signum] = signal.signal(signum, _ignore)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._previous_fd)
        self._read.close()
        self._write.close()

    def wait(self, timeout_s: float) -> list[int]:
        """Signal numbers received within ``timeout_s`` (empty on timeout)."""
        readable, _, _ = select.select([self._read], [], [], timeout_s)
        if not readable:
            return []
        try:
            data = self._read.recv(64)
        except BlockingIOError:
            return []
        return [n for n in data if n in HANDLED_SIGNALS]


_ignore: Callable[[int, Any], None] = lambda _signum, _frame: None  # noqa: E731
"""The Python-level handler: the wakeup fd carries the signal; nothing else to do."""
