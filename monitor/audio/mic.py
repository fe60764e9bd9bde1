"""Live microphone source: PortAudio callback -> bounded queue -> blocks at the model rate.

The PortAudio callback only copies the block into a bounded queue and counts
overflows and drops; everything else (mix-down, resampling, stall detection,
reopening) happens in the one worker thread that calls :meth:`Microphone.read`.
Time is the sample clock: each block carries the index of its first sample
since the start of its *segment* (one uninterrupted run of the stream). After
the device stalls or vanishes and is reopened, a new segment starts at 0 with
its own wall-clock start time, so event times stay right across the gap.
"""

from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

import numpy as np

from monitor.audio.mic_devices import InputDevice, reinitialize, sounddevice_module
from monitor.audio.mic_stream import close_stream, open_input_stream
from monitor.config.settings import AudioSettings
from monitor.errors import AudioInputError

log = logging.getLogger(__name__)

_FINISHED: Final = "finished"
"""Queue sentinel ``(_FINISHED, segment)``: PortAudio ended that segment's stream."""
_WAKE: Final = "wake"
"""Queue sentinel: :meth:`Microphone.wake` asked the reader to return now."""


_AUDIO_DEFAULTS: Final = AudioSettings()
"""``listen``'s validated ``[audio]`` settings: their defaults are this module's too."""


@dataclass(frozen=True)
class MicSettings:
    """How to open and supervise the microphone."""

    sample_rate: int
    """Rate the model wants (Hz); blocks are delivered at this rate."""
    device: str | int | None = None
    """Input device name (substring) or index; None = the system default input."""
    block_ms: int = _AUDIO_DEFAULTS.block_ms
    """Audio per PortAudio callback, in milliseconds."""
    queue_blocks: int = _AUDIO_DEFAULTS.queue_blocks
    """Bounded queue length between callback and worker; a full queue drops blocks."""
    stall_timeout_s: float = _AUDIO_DEFAULTS.stall_timeout_s
    """No block for this long = stalled: close and reopen."""
    backoff_initial_s: float = 0.5
    """First delay before reopening; doubles per failure up to ``backoff_max_s``."""
    backoff_max_s: float = _AUDIO_DEFAULTS.reopen_backoff_max_s


@dataclass(frozen=True)
class MicBlock:
    """Mono float32 samples ``[n]`` at the model rate, stamped on the sample clock."""

    samples: np.ndarray
    start_sample: int
    """Index of ``samples[0]`` since the start of the segment."""
    segment: int
    """0 for the first run of the stream, +1 after every reopen."""
    segment_start: datetime
    """UTC wall time of the segment's first sample (taken when the stream started)."""


@dataclass
class MicCounters:
    """Cumulative counters since the Microphone was created."""

    input_overflows: int = 0
    """Callbacks PortAudio flagged with input overflow (audio lost before us)."""
    dropped_blocks: int = 0
    """Blocks dropped because the queue was full (the worker fell behind)."""
    stalls: int = 0
    """Times the input stalled, finished or failed."""
    reopens: int = 0
    """Successful reopens after a stall."""


@dataclass(frozen=True)
class MicHealth:
    """A snapshot for stats, STATUS= and the watchdog."""

    state: str
    """'running', 'stalled' or 'closed'."""
    reason: str
    device: str
    device_rate_hz: int
    channels: int
    seconds_since_block: float
    counters: MicCounters = field(default_factory=MicCounters)


class Microphone:
    """A supervised sounddevice input stream. Use from one worker thread."""

    def __init__(self, settings: MicSettings, sd: Any = None) -> None:
        self.settings = settings
        self._sd = sd
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=settings.queue_blocks)
        self._counters = MicCounters()
        self._stream: Any = None
        self._device: InputDevice | None = None
        self._device_rate_hz = 0
        self._channels = 0
        self._resampler: Any = None
        self._segment = -1
        self._segment_start = datetime.now(timezone.utc)
        self._samples_out = 0
        self._last_block_at = time.monotonic()
        self._state, self._reason = "closed", "not opened"
        self._backoff_s = settings.backoff_initial_s
        self._next_attempt_at = 0.0

    # -- lifecycle ---------------------------------------------------------
    def open(self) -> None:
        """Open the device now; raise :class:`AudioInputError` if it cannot be used."""
        self._sd = self._sd or sounddevice_module()
        self._open_stream()

    def open_or_retry(self) -> None:
        """Open now if possible; otherwise log, count a stall and keep retrying in :meth:`read`."""
        self._sd = self._sd or sounddevice_module()
        try:
            self._open_stream()
        except AudioInputError as exc:
            self._counters.stalls += 1
            self._state, self._reason = "stalled", str(exc)
            log.warning("audio input unavailable (%s); retrying", exc)
            self._next_attempt_at = time.monotonic() + self._backoff_s

    def close(self) -> None:
        """Stop and close the stream, discarding queued audio (idempotent)."""
        self._close_stream()
        self._state, self._reason = "closed", "closed"

    def stop_and_drain(self) -> list[MicBlock]:
        """Stop the stream gracefully and return the blocks still queued (shutdown)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            close_stream(stream, graceful=True)
        blocks = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, np.ndarray) and (block := self._convert(item)) is not None:
                blocks.append(block)
        self._state, self._reason = "closed", "closed"
        return blocks

    def wake(self) -> None:
        """Make a blocked :meth:`read` return None soon (for shutdown)."""
        try:
            self._queue.put_nowait(_WAKE)
        except queue.Full:
            pass  # the reader is about to wake up anyway

    # -- reading -----------------------------------------------------------
    def read(self, timeout_s: float) -> MicBlock | None:
        """The next block, or None after ``timeout_s`` (or :meth:`wake`).

        Blocks on the queue (no polling). Detects stalls and reopens the
        device with exponential backoff while it waits.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            now = time.monotonic()
            if self._stream is None and now >= self._next_attempt_at:
                self._try_reopen()
            wake_at = self._next_wakeup(deadline)
            try:
                item = self._queue.get(timeout=max(0.0, wake_at - time.monotonic()))
            except queue.Empty:
                item = None
            if isinstance(item, np.ndarray):
                block = self._convert(item)
                if block is not None:
                    return block
            elif item == (_FINISHED, self._segment):
                self._stall("the input stream ended (device gone or sound server died)")
            elif item == _WAKE:
                return None
            elif self._stream is not None and self._silent_for_s() >= self.settings.stall_timeout_s:
                self._stall(f"no audio for {self._silent_for_s():.1f} s")
            if time.monotonic() >= deadline:
                return None

    def health(self) -> MicHealth:
        """Current state and counters (cheap; call from any thread)."""
        name = self._device.name if self._device else str(self.settings.device or "default")
        return MicHealth(
            state=self._state,
            reason=self._reason,
            device=name,
            device_rate_hz=self._device_rate_hz,
            channels=self._channels,
            seconds_since_block=self._silent_for_s(),
            counters=MicCounters(**vars(self._counters)),
        )

    @property
    def source_name(self) -> str:
        """``mic:<device name>`` as events report it."""
        return f"mic:{self.health().device}"

    # -- the PortAudio side (callback thread) ---------------------------------
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """Copy and enqueue; nothing else may happen on PortAudio's thread."""
        if status.input_overflow:
            self._counters.input_overflows += 1
        try:
            self._queue.put_nowait(indata.copy())
        except queue.Full:
            self._counters.dropped_blocks += 1

    def _finished_callback(self, segment: int) -> Any:
        """PortAudio's 'stream became inactive' hook, tagged so a late one is ignored."""

        def finished() -> None:
            try:
                self._queue.put_nowait((_FINISHED, segment))
            except queue.Full:
                pass  # the stall timeout notices it instead

        return finished

    # -- worker side --------------------------------------------------------
    def _next_wakeup(self, deadline: float) -> float:
        if self._stream is None:
            return min(deadline, self._next_attempt_at)
        return min(deadline, self._last_block_at + self.settings.stall_timeout_s)

    def _silent_for_s(self) -> float:
        return time.monotonic() - self._last_block_at

    def _convert(self, raw: np.ndarray) -> MicBlock | None:
        """[frames, channels] at the device rate -> mono [n] at the model rate."""
        self._last_block_at = time.monotonic()
        if self._state != "running":
            self._state, self._reason = "running", ""
            self._backoff_s = self.settings.backoff_initial_s
        mono = raw.mean(axis=1, dtype=np.float32) if raw.shape[1] > 1 else raw[:, 0]
        if self._resampler is not None:
            mono = self._resampler.resample_chunk(np.ascontiguousarray(mono))
        if mono.size == 0:
            return None
        block = MicBlock(
            samples=np.ascontiguousarray(mono, dtype=np.float32),
            start_sample=self._samples_out,
            segment=self._segment,
            segment_start=self._segment_start,
        )
        self._samples_out += mono.size
        return block

    def _stall(self, reason: str) -> None:
        self._counters.stalls += 1
        self._state, self._reason = "stalled", reason
        log.warning("audio input %s stalled: %s; reopening", self.health().device, reason)
        self._close_stream()
        self._next_attempt_at = time.monotonic() + self._backoff_s

    def _try_reopen(self) -> None:
        try:
            reinitialize(self._sd)
            self._open_stream()
        except AudioInputError as exc:
            delay = self._backoff_s
            self._backoff_s = min(self._backoff_s * 2, self.settings.backoff_max_s)
            self._next_attempt_at = time.monotonic() + delay
            self._reason = f"{exc}"
            log.warning("audio input still unavailable (%s); next try in %.1f s", exc, delay)
            return
        self._counters.reopens += 1
        log.info("audio input reopened: %s", self._device.name if self._device else "?")

    def _open_stream(self) -> None:
        opened = open_input_stream(
            self._sd,
            self.settings.device,
            self.settings.sample_rate,
            self.settings.block_ms,
            callback=self._callback,
            finished=self._finished_callback(self._segment + 1),
        )
        self._stream, self._device = opened.stream, opened.device
        self._device_rate_hz, self._channels = opened.rate_hz, opened.channels
        self._resampler = opened.resampler
        self._segment += 1
        self._segment_start = datetime.now(timezone.utc)
        self._samples_out = 0
        self._last_block_at = time.monotonic()
        self._state, self._reason = "starting", "waiting for the first block"

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            close_stream(stream)
        while True:  # stale blocks belong to the old segment
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
