"""The cough event detector: a pure state machine over window scores.

No clock, no I/O: time is the start sample of each scored window. Feed the
windows of one label in order (``start_sample`` = 0, hop, 2 * hop, ...) with
:meth:`CoughDetector.update`; call :meth:`CoughDetector.flush` at the end of
the stream. Multiclass models get one detector per event label.

Rules (all times on the sample clock):

* **Hysteresis.** A window with score ``>= threshold_on`` is *positive* and may
  open a candidate bout; inside a bout, windows ``>= threshold_off`` keep it
  *active*.
* **Merge gap.** A bout ends once more than ``merge_gap_s`` of consecutive
  windows (counted as hops) stayed below ``threshold_off``; shorter dips are
  merged into the bout.
* **k-of-n onset.** A candidate is *confirmed* when ``onset_k`` of the last
  ``onset_n`` windows were positive **and** its duration so far is at least
  ``min_duration_s``. Only then is :class:`Onset` emitted (MQTT ``state`` ON).
  A candidate that ends unconfirmed is dropped silently, so an onset never needs
  retracting: every :class:`Onset` is followed by exactly one :class:`Bout`.
* **Refractory.** No bout starts less than ``refractory_s`` after the end of
  the previous event.

Where the cough is, given the windows (window ``W``, hop ``H`` samples): a
window covering ``[s, s + W)`` usually fires as soon as the cough enters it,
and a sound enters each new window through its newest hop ``[s + W - H, s + W)``
(the older part was in the previous window, which did not fire). So an event
starts at ``s_first + W - H`` of its first positive window; only the very first
window of a stream has no predecessor and starts the event at ``s_first``.
Symmetrically it ends at ``s_last + H`` of its last active window (the next
window, starting there, no longer held it), and lasts at least one hop. For a
model that fires on the first window a cough enters, both are within one hop
of the truth.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

from monitor.errors import ConfigError

MAX_MIN_DURATION_S: Final = 60.0
MAX_MERGE_GAP_S: Final = 60.0
MAX_REFRACTORY_S: Final = 3600.0
MAX_ONSET_WINDOWS: Final = 100
"""Upper bounds (as in the listen config): beyond them a setting means nothing useful,
and a huge one would overflow the conversion to samples."""


@dataclass(frozen=True)
class DetectorSettings:
    """How window scores become events (validated on construction)."""

    threshold_on: float
    """A window scoring at least this is positive (may start a bout); 0..1."""
    threshold_off: float
    """Inside a bout, windows scoring at least this keep it going; 0..threshold_on."""
    onset_k: int = 2
    """Positive windows needed among the last ``onset_n`` to confirm an onset."""
    onset_n: int = 3
    """Length of the k-of-n onset look-back, in windows."""
    min_duration_s: float = 0.0
    """Bouts shorter than this are never confirmed (no event, no state ON)."""
    merge_gap_s: float = 0.5
    """Dips below ``threshold_off`` up to this long are merged into the bout."""
    refractory_s: float = 0.0
    """No new bout may start within this time after an event ended."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold_off <= self.threshold_on <= 1.0:
            raise ConfigError(
                f"thresholds must satisfy 0 <= off ({self.threshold_off}) <= "
                f"on ({self.threshold_on}) <= 1"
            )
        if not 1 <= self.onset_k <= self.onset_n <= MAX_ONSET_WINDOWS:
            raise ConfigError(f"onset k-of-n must satisfy 1 <= k ({self.onset_k}) <= n "
                              f"({self.onset_n}) <= {MAX_ONSET_WINDOWS}")
        for name, most in (("min_duration_s", MAX_MIN_DURATION_S),
                           ("merge_gap_s", MAX_MERGE_GAP_S), ("refractory_s", MAX_REFRACTORY_S)):
            value = getattr(self, name)
            if not 0 <= value <= most:  # also false for NaN
                raise ConfigError(f"{name} must be between 0 and {most:g} s, not {value:g}")


@dataclass(frozen=True)
class Framing:
    """How the stream is cut into windows."""

    sample_rate: int
    """Model rate in Hz (the sample clock)."""
    window_samples: int
    hop_samples: int
    """Distance between window starts; 1..window_samples."""

    def __post_init__(self) -> None:
        if not 0 < self.hop_samples <= self.window_samples:
            raise ConfigError(
                f"hop ({self.hop_samples} samples) must be between 1 sample and the window "
                f"({self.window_samples} samples)"
            )

    def samples(self, seconds: float) -> int:
        """``seconds`` on the sample clock, rounded to whole samples."""
        return round(seconds * self.sample_rate)


@dataclass(frozen=True)
class Onset:
    """A bout of ``label`` was confirmed; its event will start at ``start_sample``."""

    label: str
    start_sample: int


@dataclass(frozen=True)
class Bout:
    """A finished bout: the detector's half of a :class:`~monitor.output.events.CoughEvent`."""

    label: str
    start_sample: int
    end_sample: int
    """One past the last sample (exclusive)."""
    peak_score: float
    mean_score: float
    """Mean window score from the first positive to the last active window."""
    windows: int


@dataclass
class _OpenBout:
    start_sample: int
    last_active: int
    peak: float
    total: float
    count: int
    quiet_total: float = 0.0
    quiet_count: int = 0
    confirmed: bool = False

    def end_sample(self, hop_samples: int) -> int:
        return max(self.last_active, self.start_sample) + hop_samples

    def absorb_active(self, window_start: int, score: float) -> None:
        self.total += self.quiet_total + score
        self.count += self.quiet_count + 1
        self.quiet_total, self.quiet_count = 0.0, 0
        self.peak = max(self.peak, score)
        self.last_active = window_start


class CoughDetector:
    """Turns one label's window scores into :class:`Onset` and :class:`Bout` results."""

    def __init__(self, label: str, settings: DetectorSettings, framing: Framing) -> None:
        self.label = label
        self.settings = settings
        self.framing = framing
        self._flags: deque[bool] = deque(maxlen=settings.onset_n)
        self._bout: _OpenBout | None = None
        self._first_window: int | None = None
        self._blocked_until = -1
        self._min_duration = framing.samples(settings.min_duration_s)
        self._merge_gap = framing.samples(settings.merge_gap_s)
        self._refractory = framing.samples(settings.refractory_s)

    @property
    def in_bout(self) -> bool:
        """True between an :class:`Onset` and its :class:`Bout`."""
        return self._bout is not None and self._bout.confirmed

    def update(self, score: float, window_start: int) -> list[Onset | Bout]:
        """Take the score of the window starting at ``window_start``; return what it decides."""
        if self._first_window is None:
            self._first_window = window_start
        start = self._event_start(window_start)
        positive = score >= self.settings.threshold_on and start >= self._blocked_until
        self._flags.append(positive)
        bout = self._bout
        if bout is None:
            if not positive:
                return []
            bout = self._bout = _OpenBout(start, window_start, score, score, 1)
        elif score >= self.settings.threshold_off:
            bout.absorb_active(window_start, score)
        else:
            bout.quiet_total += score
            bout.quiet_count += 1
            if bout.quiet_count * self.framing.hop_samples > self._merge_gap:
                return [*self._close()]
            return []
        return self._maybe_confirm(bout)

    def flush(self) -> list[Bout]:
        """End of stream: finish a confirmed bout (an unconfirmed candidate is dropped)."""
        return self._close() if self._bout is not None else []

    def _event_start(self, window_start: int) -> int:
        if window_start == self._first_window:
            return window_start
        return window_start + self.framing.window_samples - self.framing.hop_samples

    def _maybe_confirm(self, bout: _OpenBout) -> list[Onset | Bout]:
        if bout.confirmed or sum(self._flags) < self.settings.onset_k:
            return []
        duration = bout.end_sample(self.framing.hop_samples) - bout.start_sample
        if duration < self._min_duration:
            return []
        bout.confirmed = True
        return [Onset(self.label, bout.start_sample)]

    def _close(self) -> list[Bout]:
        bout, self._bout = self._bout, None
        self._flags.clear()
        if bout is None or not bout.confirmed:
            return []
        end = bout.end_sample(self.framing.hop_samples)
        self._blocked_until = end + self._refractory
        return [
            Bout(self.label, bout.start_sample, end, bout.peak, bout.total / bout.count, bout.count)
        ]
