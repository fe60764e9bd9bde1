"""Opening one PortAudio input stream: choose rate and channels, set up resampling.

Open at the model rate when the device accepts it (PortAudio/ALSA then does
any conversion), else at the device's default rate and resample in the worker
with a streaming soxr resampler. Prefer one channel; a device that only offers
stereo (or more) is opened with as few channels as it accepts and mixed down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from monitor.audio.mic_devices import InputDevice, find_input_device
from monitor.errors import AudioInputError

log = logging.getLogger(__name__)

DTYPE: Final = "float32"
CLOSE_TIMEOUT_S: Final = 2.0
"""A stream on a hung device may never close; give up on it after this long."""
RESAMPLE_QUALITY: Final = "HQ"
"""soxr quality; HQ costs well under 1 % of a core at 48 kHz -> 16 kHz."""


@dataclass(frozen=True)
class OpenedStream:
    """A started sounddevice ``InputStream`` and how it was opened."""

    stream: Any
    device: InputDevice
    rate_hz: int
    """Rate the device delivers (Hz)."""
    channels: int
    resampler: Any
    """``soxr.ResampleStream`` from ``rate_hz`` to the model rate, or None."""


def open_input_stream(
    sd: Any,
    device_spec: str | int | None,
    model_rate_hz: int,
    block_ms: int,
    callback: Callable[..., None],
    finished: Callable[[], None],
) -> OpenedStream:
    """Find the device, pick rate/channels, open and start the stream.

    Raises :class:`AudioInputError` (one line, naming the device) on failure.
    """
    device = find_input_device(device_spec, sd)
    channels = _pick_channels(sd, device, model_rate_hz)
    rate_hz = model_rate_hz if _accepts(sd, device, channels, model_rate_hz) else device.default_rate_hz
    blocksize = max(1, round(rate_hz * block_ms / 1000))
    try:
        stream = sd.InputStream(
            device=device.index,
            samplerate=rate_hz,
            channels=channels,
            dtype=DTYPE,
            blocksize=blocksize,
            latency="high",
            callback=callback,
            finished_callback=finished,
        )
        stream.start()
    except (sd.PortAudioError, ValueError) as exc:
        raise AudioInputError(f"cannot open input device {device.name!r}: {exc}") from None
    log.info(
        "listening on %r (index %d, %s): %d Hz, %d channel(s), %d-frame blocks%s",
        device.name, device.index, device.hostapi, rate_hz, channels, blocksize,
        "" if rate_hz == model_rate_hz else f", resampled to {model_rate_hz} Hz",
    )
    return OpenedStream(stream, device, rate_hz, channels, _resampler(rate_hz, model_rate_hz))


def _accepts(sd: Any, device: InputDevice, channels: int, rate_hz: int) -> bool:
    try:
        sd.check_input_settings(
            device=device.index, channels=channels, dtype=DTYPE, samplerate=rate_hz
        )
    except (sd.PortAudioError, ValueError):
        return False
    return True


def _pick_channels(sd: Any, device: InputDevice, model_rate_hz: int) -> int:
    """Fewest channels the device accepts (at the model rate or its own)."""
    for channels in sorted({1, min(2, device.max_input_channels), device.max_input_channels}):
        for rate_hz in (model_rate_hz, device.default_rate_hz):
            if _accepts(sd, device, channels, rate_hz):
                return channels
    raise AudioInputError(
        f"input device {device.name!r} accepts neither {model_rate_hz} Hz nor its default "
        f"{device.default_rate_hz} Hz with 1..{device.max_input_channels} float32 channels"
    )


def _resampler(rate_hz: int, model_rate_hz: int) -> Any:
    if rate_hz == model_rate_hz:
        return None
    import soxr  # only needed when the device cannot deliver the model rate

    return soxr.ResampleStream(rate_hz, model_rate_hz, 1, dtype=DTYPE, quality=RESAMPLE_QUALITY)


def close_stream(stream: Any, graceful: bool = False) -> None:
    """Stop (``graceful``: let queued buffers finish) or abort, then close the stream.

    Runs in a helper thread: a hung device must not hang the worker.
    """

    def close() -> None:
        try:
            if graceful:
                stream.stop(ignore_errors=True)
            else:
                stream.abort(ignore_errors=True)
            stream.close(ignore_errors=True)
        except Exception as exc:  # PortAudio errors on a dead device are expected here
            log.debug("closing the input stream: %s", exc)

    closer = threading.Thread(target=close, name="mic-close", daemon=True)
    closer.start()
    closer.join(CLOSE_TIMEOUT_S)
    if closer.is_alive():
        log.warning("the input stream did not close within %.0f s; abandoning it", CLOSE_TIMEOUT_S)
