"""The cough event: what outputs (stdout JSONL, events file, MQTT) carry.

Schema: ``monitor/schemas/event.schema.json`` (``schema`` field = :data:`SCHEMA_ID`).
Times: ``start_s``/``end_s`` are seconds from stream start on the sample clock;
``start_time``/``end_time`` are ISO 8601 UTC, the stream's start time plus those
offsets (never ``now()`` inside the detection logic).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final

SCHEMA_ID: Final = "coughwatch.event/1"
_ID_NAMESPACE: Final = uuid.UUID("6f1c5a52-3f0e-4c61-9a55-0c0b1d2b6c11")


@dataclass(frozen=True)
class CoughEvent:
    """One detected cough (or, for multiclass models, one event of ``label``)."""

    event_id: str
    """Stable id: the same stream, label and start sample always give the same id."""
    device_id: str
    label: str
    start_sample: int
    """First sample of the event at ``sample_rate`` (stream sample clock)."""
    end_sample: int
    """One past the last sample of the event."""
    sample_rate: int
    """Model rate in Hz that the sample indices count at."""
    stream_start: datetime
    """UTC wall time of sample 0."""
    peak_score: float
    mean_score: float
    windows: int
    """Number of scored windows the event spans."""
    model_name: str
    model_sha256: str
    """First 12 hex digits of the model file's sha256."""
    source: str
    """What was listened to: ``mic:<device>``, a file path, or ``stdin``."""

    @property
    def start_s(self) -> float:
        return self.start_sample / self.sample_rate

    @property
    def end_s(self) -> float:
        return self.end_sample / self.sample_rate

    @property
    def start_time(self) -> datetime:
        return self.stream_start + timedelta(seconds=self.start_s)

    @property
    def end_time(self) -> datetime:
        return self.stream_start + timedelta(seconds=self.end_s)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, in the schema's field order."""
        return {
            "schema": SCHEMA_ID,
            "event_id": self.event_id,
            "device_id": self.device_id,
            "label": self.label,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "start_time": iso_utc(self.start_time),
            "end_time": iso_utc(self.end_time),
            "peak_score": round(self.peak_score, 4),
            "mean_score": round(self.mean_score, 4),
            "windows": self.windows,
            "model": {"name": self.model_name, "sha256": self.model_sha256},
            "source": self.source,
        }

    def to_json(self) -> str:
        """One line of JSON (no trailing newline)."""
        return json.dumps(self.to_dict(), separators=(",", ":"))


def stable_event_id(
    device_id: str, source: str, stream_start: datetime, label: str, start_sample: int
) -> str:
    """uuid5 over what identifies an event, so re-emits and replays de-duplicate."""
    key = f"{device_id}|{source}|{iso_utc(stream_start)}|{label}|{start_sample}"
    return str(uuid.uuid5(_ID_NAMESPACE, key))


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a ``Z`` suffix."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    text = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
