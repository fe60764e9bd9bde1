"""The audio input of ``listen``: a sound card (:class:`~monitor.audio.mic.Microphone`) or a
network stream through ffmpeg (:class:`~monitor.netaudio.source.NetworkInput`).

Both have the same interface (``open``, ``open_or_retry``, ``read``, ``health``,
``wake``, ``close``, ``stop_and_drain``, ``source_name``, ``settings``) and the same
stall, reopen and watchdog rules; the worker does not know which one it has.
"""

from __future__ import annotations

from monitor.audio.mic import Microphone, MicSettings
from monitor.config.settings import ListenSettings
from monitor.live.engine import mic_settings
from monitor.netaudio.source import NetSettings, NetworkInput

InputSettings = MicSettings | NetSettings
AudioInput = Microphone | NetworkInput


def input_settings(settings: ListenSettings, sample_rate: int) -> InputSettings:
    """What to open for a model at ``sample_rate`` Hz: ``audio.input_url`` if set, else the card."""
    audio = settings.audio
    if audio.input_url is None:
        return mic_settings(settings, sample_rate)
    return NetSettings(
        sample_rate=sample_rate,
        url=audio.input_url,
        input_args=tuple(audio.ffmpeg_input_args),
        block_ms=audio.block_ms,
        queue_blocks=audio.queue_blocks,
        stall_timeout_s=audio.stall_timeout_s,
        connect_timeout_s=audio.connect_timeout_s,
        backoff_max_s=audio.reopen_backoff_max_s,
    )


def make_input(settings: InputSettings) -> AudioInput:
    """An unopened input for ``settings``."""
    if isinstance(settings, NetSettings):
        return NetworkInput(settings)
    return Microphone(settings)
