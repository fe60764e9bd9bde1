"""One ``ffmpeg`` process decoding a network stream to raw mono float32 at the model rate.

``ffmpeg -i URL -vn -ac 1 -ar RATE -f f32le pipe:1``: ffmpeg does the protocol
(RTSP, HTTP, RTMP, SRT, ...), the codec, the mix-down and the resampling. A
reader thread cuts its stdout into blocks and hands them to ``deliver``; when
the stream ends (ffmpeg exits: connection refused, camera gone, end of a
file) it calls ``ended`` with ffmpeg's last message, credentials masked. A
second thread keeps ffmpeg's stderr (the last few lines) for that message.
"""

from __future__ import annotations

import collections
import logging
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import Final

import numpy as np

from monitor.errors import AudioInputError
from monitor.netaudio.url import redact_text

log = logging.getLogger(__name__)

BYTES_PER_SAMPLE: Final = 4
"""f32le: ffmpeg's output format (no scaling needed)."""
STDERR_LINES: Final = 5
STOP_TIMEOUT_S: Final = 2.0
"""ffmpeg gets this long to exit after SIGTERM (and again after SIGKILL)."""

Deliver = Callable[[np.ndarray], None]
Ended = Callable[[str], None]


def ffmpeg_path(name: str = "ffmpeg") -> str:
    """The ffmpeg executable; :class:`AudioInputError` (one line) when it is not installed."""
    found = shutil.which(name)
    if found is None:
        raise AudioInputError(f"network audio needs {name}, which is not installed "
                              "(Debian: apt install ffmpeg)")
    return found


def ffmpeg_command(executable: str, url: str, input_args: Sequence[str],
                   sample_rate: int) -> list[str]:
    """The command line (holds the URL as given: never log it, see :func:`redact_text`)."""
    return [
        executable, "-nostdin", "-hide_banner", "-loglevel", "error",
        *input_args, "-i", url,
        "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "pipe:1",
    ]  # fmt: skip


class FfmpegStream:
    """A running ffmpeg and its two reader threads. :meth:`stop` is idempotent."""

    def __init__(self, command: list[str], url: str, block_samples: int,
                 deliver: Deliver, ended: Ended) -> None:
        """Start ffmpeg; raises :class:`AudioInputError` when it cannot be started."""
        self._url = url
        self._block_bytes = block_samples * BYTES_PER_SAMPLE
        self._deliver, self._ended = deliver, ended
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._stopping = threading.Event()
        try:
            self._proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True,  # a Ctrl-C is for the daemon
            )  # fmt: skip
        except OSError as exc:
            raise AudioInputError(f"cannot start ffmpeg: {exc.strerror or exc}") from None
        self._err_thread = threading.Thread(target=self._read_stderr, name="ffmpeg-stderr",
                                            daemon=True)  # fmt: skip
        self._out_thread = threading.Thread(target=self._read_stdout, name="ffmpeg-audio",
                                            daemon=True)  # fmt: skip
        self._err_thread.start()
        self._out_thread.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self) -> None:
        """Stop ffmpeg (SIGTERM, then SIGKILL) and wait for the reader threads."""
        self._stopping.set()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(STOP_TIMEOUT_S)
        for thread in (self._out_thread, self._err_thread):
            if thread is not threading.current_thread():
                thread.join(STOP_TIMEOUT_S)

    def _read_stdout(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        leftover = b""
        try:
            while True:
                data = stdout.read(self._block_bytes)  # a full block, or less at the end
                if not data:
                    break
                data = leftover + data
                usable = len(data) - len(data) % BYTES_PER_SAMPLE
                leftover = data[usable:]
                if usable:
                    self._deliver(np.frombuffer(data[:usable], dtype="<f4").copy())
        except (OSError, ValueError) as exc:  # the pipe closed under us by stop()
            log.debug("ffmpeg stdout: %s", exc)
        finally:
            stdout.close()
        self._finish()

    def _read_stderr(self) -> None:
        stderr = self._proc.stderr
        assert stderr is not None
        try:
            for raw in stderr:
                line = redact_text(raw.decode("utf-8", errors="replace").strip(), self._url)
                if line:
                    self._stderr.append(line)
                    log.debug("ffmpeg: %s", line)
        except (OSError, ValueError):
            pass
        finally:
            stderr.close()

    def _finish(self) -> None:
        """ffmpeg's output ended: tell the owner why, unless it asked for the stop."""
        try:
            status = self._proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            status = self._proc.wait()
        self._err_thread.join(STOP_TIMEOUT_S)
        if self._stopping.is_set():
            return
        last = self._stderr[-1] if self._stderr else ""
        reason = f"ffmpeg: {last}" if last else f"ffmpeg exited with status {status}"
        self._ended(reason[:300])
