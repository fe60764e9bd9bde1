"""Who, what and when of one stream: turns detector results into identified events."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from monitor.output.events import CoughEvent, stable_event_id
from monitor.scoring.detector import Bout
from monitor.scoring.modelfile import LoadedModel


def default_device_id() -> str:
    """The host name: the default ``--device-id``."""
    return socket.gethostname() or "coughwatch"


@dataclass(frozen=True)
class StreamContext:
    """Identity of a stream; sample 0 happened at ``stream_start`` (UTC)."""

    device_id: str
    source: str
    """``mic:<device>``, the file path as given, or ``stdin``."""
    stream_start: datetime
    sample_rate: int
    """Model rate in Hz (the sample clock)."""
    model_name: str
    model_sha256: str
    """First 12 hex digits of the model file's sha256."""

    @classmethod
    def for_model(
        cls, model: LoadedModel, device_id: str, source: str, stream_start: datetime
    ) -> StreamContext:
        """Context for a stream scored by ``model``."""
        if stream_start.tzinfo is None:
            stream_start = stream_start.replace(tzinfo=timezone.utc)
        return cls(
            device_id=device_id,
            source=source,
            stream_start=stream_start.astimezone(timezone.utc),
            sample_rate=model.info.spec.sample_rate,
            model_name=model.info.name,
            model_sha256=model.sha256[:12],
        )

    def event_id(self, label: str, start_sample: int) -> str:
        """The stable id of the event of ``label`` starting at ``start_sample``."""
        return stable_event_id(self.device_id, self.source, self.stream_start, label, start_sample)

    def seconds(self, sample: int) -> float:
        """Seconds from stream start of ``sample``."""
        return sample / self.sample_rate

    def wall_time(self, sample: int) -> datetime:
        """UTC wall time of ``sample`` on the stream clock."""
        return self.stream_start + timedelta(seconds=self.seconds(sample))

    def event(self, bout: Bout) -> CoughEvent:
        """The complete event for a finished bout."""
        return CoughEvent(
            event_id=self.event_id(bout.label, bout.start_sample),
            device_id=self.device_id,
            label=bout.label,
            start_sample=bout.start_sample,
            end_sample=bout.end_sample,
            sample_rate=self.sample_rate,
            stream_start=self.stream_start,
            peak_score=float(bout.peak_score),
            mean_score=float(bout.mean_score),
            windows=bout.windows,
            model_name=self.model_name,
            model_sha256=self.model_sha256,
            source=self.source,
        )
