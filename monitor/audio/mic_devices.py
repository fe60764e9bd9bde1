"""Finding audio input devices through sounddevice (PortAudio), imported lazily.

``import sounddevice`` loads libportaudio and enumerates devices at import
time, so it is imported here only when a microphone is really wanted, and its
two import-time failures become :class:`~monitor.errors.AudioInputError` with
one clear line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final

from monitor.errors import AudioInputError

log = logging.getLogger(__name__)

NO_DEVICES_HINT: Final = (
    "no audio input devices found (check that a microphone is plugged in, that this user "
    "is in the 'audio' group, or that PULSE_SERVER points at a running sound server)"
)


@dataclass(frozen=True)
class InputDevice:
    """One PortAudio device that can record."""

    index: int
    """PortAudio device index (changes when devices come and go)."""
    name: str
    hostapi: str
    """Host API name, e.g. 'ALSA'."""
    default_rate_hz: int
    """The device's default sample rate in Hz."""
    max_input_channels: int
    is_default: bool
    """True for the system default input."""


def sounddevice_module() -> ModuleType:
    """Import and return ``sounddevice``; raise AudioInputError if PortAudio is missing."""
    try:
        import sounddevice
    except OSError as exc:  # raised at import when libportaudio2 is not installed
        raise AudioInputError(
            f"cannot use the microphone: {exc} (install the PortAudio library, "
            "e.g. 'apt install libportaudio2')"
        ) from None
    except Exception as exc:  # sounddevice.PortAudioError: PortAudio failed to initialise
        raise AudioInputError(f"cannot initialise PortAudio: {exc}") from None
    return sounddevice


def reinitialize(sd: ModuleType) -> None:
    """Restart PortAudio so that devices that appeared or came back are listed.

    Call only while no stream of this process is open. Errors are re-raised as
    :class:`AudioInputError`.
    """
    try:
        if sd._initialized > 0:
            sd._terminate()
        sd._initialize()
    except sd.PortAudioError as exc:
        raise AudioInputError(f"cannot re-initialise PortAudio: {exc}") from None


def list_input_devices(sd: ModuleType | None = None) -> list[InputDevice]:
    """All devices with at least one input channel, in PortAudio order."""
    sd = sd or sounddevice_module()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_index = _default_input_index(sd)
    except sd.PortAudioError as exc:
        raise AudioInputError(f"cannot list audio devices: {exc}") from None
    return [
        _input_device(info, hostapis, default_index)
        for info in devices
        if info["max_input_channels"] > 0
    ]


def find_input_device(spec: str | int | None, sd: ModuleType | None = None) -> InputDevice:
    """Resolve ``--input-device``: None = system default, an index, or a name (substring).

    Raises :class:`AudioInputError` with the available inputs named when
    nothing matches or no device can record at all.
    """
    devices = list_input_devices(sd)
    if not devices:
        raise AudioInputError(NO_DEVICES_HINT)
    if spec is None or (isinstance(spec, str) and spec.strip() == ""):
        chosen = next((d for d in devices if d.is_default), devices[0])
        return chosen
    text = str(spec).strip()
    if text.lstrip("-").isdigit():
        match = [d for d in devices if d.index == int(text)]
    else:
        exact = [d for d in devices if d.name == text]
        match = exact or [d for d in devices if text.lower() in d.name.lower()]
    if len(match) == 1:
        return match[0]
    available = ", ".join(f"{d.index}: {d.name}" for d in devices)
    what = "matches several" if match else "matches no"
    raise AudioInputError(f"input device {text!r} {what} input device (available: {available})")


def format_device_table(devices: list[InputDevice]) -> str:
    """The `cough-monitor devices` listing: one line per input, '*' marks the default."""
    if not devices:
        return ""
    width = max(len(d.name) for d in devices)
    header = f"  {'index':>5}  {'name':<{width}}  {'hostapi':<8}  {'rate_hz':>7}  channels"
    lines = [header]
    for d in devices:
        mark = "*" if d.is_default else " "
        lines.append(
            f"{mark} {d.index:>5}  {d.name:<{width}}  {d.hostapi:<8}  "
            f"{d.default_rate_hz:>7}  {d.max_input_channels}"
        )
    return "\n".join(lines)


def _default_input_index(sd: ModuleType) -> int:
    index = sd.default.device[0]
    if isinstance(index, int) and index >= 0:
        return index
    try:  # PortAudio's own default input when sounddevice has none set
        return int(sd.query_devices(kind="input")["index"])
    except sd.PortAudioError:
        return -1


def _input_device(info: dict[str, Any], hostapis: Any, default_index: int) -> InputDevice:
    return InputDevice(
        index=int(info["index"]),
        name=str(info["name"]),
        hostapi=str(hostapis[info["hostapi"]]["name"]),
        default_rate_hz=int(round(info["default_samplerate"])),
        max_input_channels=int(info["max_input_channels"]),
        is_default=int(info["index"]) == default_index,
    )
