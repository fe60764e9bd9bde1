"""``listen --input URL``: a network stream supervised like the sound card.

Same interface and rules as :class:`~monitor.audio.mic.Microphone`: the worker calls
:meth:`NetworkInput.read`, which blocks on a bounded queue fed by ffmpeg's
reader thread (a full queue drops blocks and counts them). No audio for
``stall_timeout_s``, or ffmpeg ending, is a *stall*: ffmpeg is stopped, the
state says ``stalled`` (so ``stats``, ``STATUS=`` and the systemd watchdog
react exactly as for a vanished sound card) and it is started again after a
backoff that doubles from ``backoff_initial_s`` up to ``backoff_max_s`` and
resets once audio flows. Before the first audio of a run, ffmpeg gets
``connect_timeout_s`` (connecting, probing the stream: ~5 s with ffmpeg's
defaults). Each run of ffmpeg is a new *segment* of the stream:
its sample clock starts at 0 and its wall-clock start is taken when its first
audio arrives.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import numpy as np

from monitor.audio.mic import MicBlock, MicCounters, MicHealth
from monitor.errors import AudioInputError
from monitor.netaudio.ffmpeg import FfmpegStream, ffmpeg_command, ffmpeg_path
from monitor.netaudio.url import redact_args, redact_url

log = logging.getLogger(__name__)

_ENDED: Final = "ended"
"""Queue item ``(_ENDED, segment, reason)``: that segment's ffmpeg stopped delivering."""
_WAKE: Final = "wake"


@dataclass(frozen=True)
class NetSettings:
    """How to read and supervise one network stream."""

    sample_rate: int
    """Rate the model wants (Hz); ffmpeg resamples to it."""
    url: str
    """Any URL ffmpeg reads (secret: shown only through :func:`redact_url`)."""
    input_args: tuple[str, ...] = ()
    """ffmpeg options placed before ``-i URL`` (e.g. ``-rtsp_transport tcp``)."""
    block_ms: int = 50
    queue_blocks: int = 100
    stall_timeout_s: float = 5.0
    """No audio for this long once it flowed = stalled."""
    connect_timeout_s: float = 15.0
    """From starting ffmpeg to its first audio (connecting, probing the stream) at most."""
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 10.0
    ffmpeg: str = "ffmpeg"
    """Name or path of the ffmpeg executable."""

    def __repr__(self) -> str:  # the reload log prints settings: never the URL's secrets
        return (f"NetSettings(url={redact_url(self.url)!r}, input_args={redact_args(self.input_args)}, "
                f"sample_rate={self.sample_rate}, block_ms={self.block_ms}, "
                f"stall_timeout_s={self.stall_timeout_s})")

    @property
    def block_samples(self) -> int:
        return max(1, round(self.sample_rate * self.block_ms / 1000))


class NetworkInput:
    """A supervised ffmpeg reader with the :class:`~monitor.audio.mic.Microphone` interface."""

    def __init__(self, settings: NetSettings) -> None:
        self.settings = settings
        self.shown_url = redact_url(settings.url)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=settings.queue_blocks)
        self._counters = MicCounters()
        self._lock = threading.Lock()  # counters touched by the reader thread
        self._stream: FfmpegStream | None = None
        self._executable: str | None = None
        self._segment = -1
        self._segment_start = datetime.now(timezone.utc)
        self._samples_out = 0
        self._last_block_at = time.monotonic()
        self._state, self._reason = "closed", "not opened"
        self._backoff_s = settings.backoff_initial_s
        self._next_attempt_at = 0.0

    # -- lifecycle ---------------------------------------------------------
    def open(self) -> None:
        """Start ffmpeg; :class:`AudioInputError` only when ffmpeg is missing (an unreachable
        stream is a stall, retried with backoff: cameras reboot)."""
        self._executable = ffmpeg_path(self.settings.ffmpeg)
        self._start()

    def open_or_retry(self) -> None:
        """Like :meth:`open`, but a missing ffmpeg is logged and retried too."""
        try:
            self.open()
        except AudioInputError as exc:
            self._enter_stall(str(exc))

    def close(self) -> None:
        """Stop ffmpeg and discard queued audio (idempotent)."""
        self._stop_stream()
        self._state, self._reason = "closed", "closed"

    def stop_and_drain(self) -> list[MicBlock]:
        """Stop ffmpeg and return the blocks still queued (shutdown)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
        blocks = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            block = self._as_block(item)
            if block is not None:
                blocks.append(block)
        self._state, self._reason = "closed", "closed"
        return blocks

    def wake(self) -> None:
        """Make a blocked :meth:`read` return None soon."""
        try:
            self._queue.put_nowait(_WAKE)
        except queue.Full:
            pass

    # -- reading -----------------------------------------------------------
    def read(self, timeout_s: float) -> MicBlock | None:
        """The next block, or None after ``timeout_s`` (or :meth:`wake`); restarts ffmpeg
        after a stall once its backoff has passed."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self._stream is None and time.monotonic() >= self._next_attempt_at:
                self._retry()
            try:
                item = self._queue.get(timeout=max(0.0, self._next_wakeup(deadline) - time.monotonic()))
            except queue.Empty:
                item = None
            if item == _WAKE:
                return None
            if isinstance(item, tuple) and item[0] == _ENDED:
                if item[1] == self._segment and self._stream is not None:
                    self._stall(f"the stream ended ({item[2]})")
            elif item is not None:
                block = self._as_block(item)
                if block is not None:
                    return block
            elif self._stream is not None and self._silent_for_s() >= self._allowed_silence_s():
                self._stall(f"no audio for {self._silent_for_s():.1f} s" if self._samples_out
                            else f"no audio {self._silent_for_s():.1f} s after connecting")
            if time.monotonic() >= deadline:
                return None

    def health(self) -> MicHealth:
        """Current state and counters (cheap; any thread)."""
        with self._lock:
            counters = MicCounters(**vars(self._counters))
        return MicHealth(
            state=self._state, reason=self._reason, device=self.shown_url,
            device_rate_hz=self.settings.sample_rate, channels=1,
            seconds_since_block=self._silent_for_s(), counters=counters,
        )  # fmt: skip

    @property
    def source_name(self) -> str:
        """The URL without its secrets, as events report it."""
        return self.shown_url

    # -- the reader thread's side -------------------------------------------------
    def _deliverer(self, segment: int) -> Any:
        def deliver(samples: np.ndarray) -> None:
            try:
                self._queue.put_nowait((segment, samples))
            except queue.Full:
                with self._lock:
                    self._counters.dropped_blocks += 1

        return deliver

    def _ender(self, segment: int) -> Any:
        def ended(reason: str) -> None:
            try:
                self._queue.put_nowait((_ENDED, segment, reason))
            except queue.Full:
                pass  # the stall timeout notices it instead

        return ended

    # -- worker side ------------------------------------------------------------
    def _as_block(self, item: Any) -> MicBlock | None:
        if not (isinstance(item, tuple) and len(item) == 2) or item[0] != self._segment:
            return None  # a wake-up, or audio of an older segment
        samples: np.ndarray = item[1]
        now = time.monotonic()
        if self._samples_out == 0:  # the segment's clock starts with its first audio
            self._segment_start = datetime.now(timezone.utc) - timedelta(
                seconds=samples.size / self.settings.sample_rate)
        self._last_block_at = now
        if self._state != "running":
            if self._state == "stalled":
                log.debug("network audio %s: audio flowing again", self.shown_url)
            self._state, self._reason = "running", ""
            self._backoff_s = self.settings.backoff_initial_s
        block = MicBlock(samples, self._samples_out, self._segment, self._segment_start)
        self._samples_out += samples.size
        return block

    def _next_wakeup(self, deadline: float) -> float:
        if self._stream is None:
            return min(deadline, self._next_attempt_at)
        return min(deadline, self._last_block_at + self._allowed_silence_s())

    def _allowed_silence_s(self) -> float:
        if self._samples_out:
            return self.settings.stall_timeout_s
        return max(self.settings.stall_timeout_s, self.settings.connect_timeout_s)

    def _silent_for_s(self) -> float:
        return time.monotonic() - self._last_block_at

    def _start(self) -> None:
        assert self._executable is not None
        self._segment += 1
        self._samples_out = 0
        self._last_block_at = time.monotonic()
        if self._state != "stalled":
            self._state, self._reason = "starting", "connecting"
        command = ffmpeg_command(self._executable, self.settings.url, self.settings.input_args,
                                 self.settings.sample_rate)  # fmt: skip
        self._stream = FfmpegStream(command, self.settings.url, self.settings.block_samples,
                                    self._deliverer(self._segment), self._ender(self._segment))
        log.info("network audio: reading %s through ffmpeg (pid %d), mono %d Hz%s",
                 self.shown_url, self._stream.pid, self.settings.sample_rate,
                 f", options {' '.join(redact_args(self.settings.input_args))}"
                 if self.settings.input_args else "")  # fmt: skip

    def _retry(self) -> None:
        try:
            if self._executable is None:
                self._executable = ffmpeg_path(self.settings.ffmpeg)
            self._start()
        except AudioInputError as exc:
            self._schedule_retry(str(exc))
            return
        with self._lock:
            self._counters.reopens += 1

    def _stall(self, reason: str) -> None:
        """ffmpeg ended or went quiet: stop it and try again after the backoff."""
        was_running = self._state != "stalled"
        self._stop_stream()
        if was_running:
            self._enter_stall(reason)
        else:
            self._schedule_retry(reason)

    def _enter_stall(self, reason: str) -> None:
        with self._lock:
            self._counters.stalls += 1
        self._state, self._reason = "stalled", reason
        log.warning("network audio %s stalled: %s; reconnecting in %.1f s",
                    self.shown_url, reason, self._backoff_s)  # fmt: skip
        self._next_attempt_at = time.monotonic() + self._backoff_s

    def _schedule_retry(self, reason: str) -> None:
        delay = self._backoff_s = min(self._backoff_s * 2, self.settings.backoff_max_s)
        self._reason = reason
        self._next_attempt_at = time.monotonic() + delay
        log.warning("network audio %s still unavailable (%s); next try in %.1f s",
                    self.shown_url, reason, delay)  # fmt: skip

    def _stop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
        while True:  # queued audio belongs to the stopped segment
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
