"""Network audio for ``listen --input URL``: an IP camera's or baby monitor's microphone.

* :mod:`~monitor.netaudio.url` - checking URLs and keeping credentials out of logs.
* :mod:`~monitor.netaudio.ffmpeg` - one ``ffmpeg`` process decoding the stream to a pipe.
* :mod:`~monitor.netaudio.source` - :class:`~monitor.netaudio.source.NetworkInput`, which
  supervises it like the sound card: stall detection, reconnects with backoff, health.
"""
