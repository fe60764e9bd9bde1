"""``cough-monitor replay``: audio files (or raw PCM on stdin) through the live pipeline.

stdout carries only JSON lines (events; with ``--summary`` one line per file instead);
logs and errors go to stderr. A bad file is reported in one line and the
others are still processed; the exit status then says some failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

from monitor.audio.sources import RAW_FORMATS, AudioSource, FileSource, StdinSource
from monitor.commands.plot import PlotStream, plot_timelines, require_matplotlib
from monitor.config import cliargs
from monitor.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_UNDELIVERED,
    EXIT_USAGE,
    AudioInputError,
    ConfigError,
    CoughwatchError,
    report_error,
)
from monitor.history.settings import HistorySettings
from monitor.history.sink import HistorySink
from monitor.mqtt import cli as mqtt_cli
from monitor.output.local import (
    EventRecorder,
    EventsFileSink,
    ScoreRecorder,
    ScoresCsvWriter,
    StdoutSink,
)
from monitor.output.sinks import EventSink
from monitor.scoring.context import StreamContext
from monitor.scoring.modelfile import LoadedModel, load_model
from monitor.scoring.pipeline import Pipeline, ScoreListener, StreamSummary
from monitor.scoring.scorer import DEFAULT_BATCH_WINDOWS, Scorer

log = logging.getLogger(__name__)

PROG: Final = "cough-monitor"
STDIN: Final = "-"
EXIT_STATUSES: Final = f"""exit status:
  {EXIT_OK}    every input processed (and, with MQTT, every event delivered to the broker)
  {EXIT_FAILURE}    failure: every input failed, or a bad model, setting or output file
  {EXIT_USAGE}    bad command line
  {EXIT_PARTIAL}    some inputs failed; the others were processed
  {EXIT_UNDELIVERED}    every input processed, but some events still wait in the MQTT outbox
        (they stay there for the next run with the same state directory)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)"""
REALTIME_BLOCK_S: Final = 0.1
"""Block length when pacing like a microphone (``--realtime``)."""
MAX_BATCH_WINDOWS: Final = 1024
"""``--batch`` at most: beyond a few dozen windows onnxruntime is no faster."""
MAX_BATCH_BYTES: Final = 256 * 1024 * 1024
"""Memory one batch of windows may take (float32), whatever the model's window."""


def add_parser(subparsers: argparse._SubParsersAction, help_line: str) -> argparse.ArgumentParser:
    """Register ``replay``; ``help_line`` is its line in ``cough-monitor --help``."""
    parser = subparsers.add_parser(
        "replay", parents=[cliargs.common_parent()],
        help=help_line,
        description="Replay audio files (wav/flac/ogg/opus/mp3; other formats via ffmpeg) or raw "
        "PCM on stdin ('-') through the same pipeline as the live monitor. stdout carries only "
        "JSON lines; logs go to stderr.",
        epilog=EXIT_STATUSES, formatter_class=cliargs.KeepLineBreaks,
    )  # fmt: skip
    parser.add_argument("inputs", nargs="+", metavar="FILE", help="audio files; '-' = raw PCM on stdin")
    cliargs.add_model_arguments(parser)
    cliargs.add_detection_arguments(parser)
    cliargs.add_identity_arguments(parser)
    add = parser.add_argument
    add("--realtime", action="store_true", help="pace the audio like a live microphone")
    add("--batch", type=cliargs.int_in(1, MAX_BATCH_WINDOWS), default=DEFAULT_BATCH_WINDOWS,
        metavar="N", help=f"windows per onnxruntime call in fast replay, 1..{MAX_BATCH_WINDOWS} "
        f"(default: {DEFAULT_BATCH_WINDOWS})")
    add("--start-time", type=cliargs.parse_start_time, metavar="ISO",
        help="wall time of the first sample (default: the file's mtime; stdin: now)")
    add("--events-out", type=Path, metavar="F", help="also append events as JSON lines to F")
    add("--no-history", action="store_true",
        help="do not keep the events in the local history (history.sqlite3 in --state-dir, "
        "read by `cough-monitor report`)")
    add("--scores-out", type=Path, metavar="F.csv", help="write every window's scores to F.csv")
    add("--plot", type=Path, metavar="F.png", help="draw the score timeline with events (needs matplotlib)")
    add("--summary", action="store_true",
        help='instead of the event lines, one JSON line per file: '
        '{"file","duration_s","score","mean_score","events"} (--events-out and MQTT still get '
        'the events)')
    raw = parser.add_argument_group("raw PCM on stdin (input '-')")
    raw.add_argument("--raw", choices=sorted(RAW_FORMATS), help="sample format of stdin")
    raw.add_argument("--rate", type=int, metavar="HZ", help="sample rate of stdin")
    raw.add_argument("--channels", type=int, default=1, metavar="C", help="channels of stdin (default: 1)")  # fmt: skip
    mqtt_cli.add_mqtt_arguments(parser)
    parser.set_defaults(handler=run, parser=parser)
    return parser


def build_sinks(args: argparse.Namespace, model: LoadedModel) -> list[EventSink]:
    """Every event output of this run, shared by all inputs (closed at the end).

    Extension point: other outputs (MQTT) add their sinks here from their own flags.
    """
    sinks: list[EventSink] = [] if args.summary else [StdoutSink()]
    if args.events_out is not None:
        sinks.append(EventsFileSink(args.events_out))
    if not args.no_history:
        sinks.append(HistorySink(args.state_dir, HistorySettings()))
    mqtt_sink = mqtt_cli.build_mqtt_sink(args, model, cliargs.device_id(args))
    if mqtt_sink is not None:
        sinks.append(mqtt_sink)
    return sinks


@dataclass
class _Run:
    """What one replay invocation shares across its inputs."""

    args: argparse.Namespace
    model: LoadedModel
    scorer: Scorer
    sinks: list[EventSink]
    csv: ScoresCsvWriter | None
    plots: list[PlotStream]


def run(args: argparse.Namespace) -> int:
    """Replay every input; return the exit status."""
    _check_inputs(args)
    cliargs.device_id(args)  # a bad --device-id fails before anything is read or stored
    if args.plot is not None:
        require_matplotlib()
    model = load_model(args.model, threads=args.threads)
    cliargs.detection_settings(args, model.info)  # validate before any input is read
    _check_batch(args.batch, model.info.spec.window_samples)
    replay = _Run(args, model, Scorer(model), build_sinks(args, model), None, [])
    failed = 0
    try:
        if args.scores_out is not None:
            replay.csv = ScoresCsvWriter(args.scores_out, model.info.labels)
        for name in args.inputs:
            failed += not _replay_input(replay, name)
    finally:
        for sink in replay.sinks:
            sink.close()
        if replay.csv is not None:
            replay.csv.close()
    if args.plot is not None:
        plot_timelines(args.plot, replay.plots)
        log.info("score timeline plotted to %s", args.plot)
    if failed == 0:
        # the MQTT sink logged how many events wait in which outbox
        return EXIT_UNDELIVERED if mqtt_cli.undelivered_events(replay.sinks) else EXIT_OK
    return EXIT_FAILURE if failed == len(args.inputs) else EXIT_PARTIAL


def _check_inputs(args: argparse.Namespace) -> None:
    if args.inputs.count(STDIN) > 1:
        args.parser.error("stdin ('-') can be read only once")
    if STDIN in args.inputs and (args.raw is None or args.rate is None):
        args.parser.error("input '-' needs --raw FORMAT and --rate HZ (and --channels C)")
    if STDIN not in args.inputs and args.raw is not None:
        args.parser.error("--raw applies only to input '-' (stdin)")


def _check_batch(batch: int, window_samples: int) -> None:
    need_bytes = 4 * batch * window_samples
    if need_bytes > MAX_BATCH_BYTES:
        most = max(1, MAX_BATCH_BYTES // (4 * window_samples))
        raise ConfigError(f"--batch {batch}: {batch} windows of {window_samples} samples need "
                          f"{need_bytes / 2**20:.0f} MiB; at most {most} for this model")


def _replay_input(replay: _Run, name: str) -> bool:
    """Replay one input; report a failure in one line and return whether it succeeded.

    A closed stdout (``| head -1``) is not the input's fault: BrokenPipeError goes up
    to the command line, which exits quietly.
    """
    try:
        summary = _replay_stream(replay, _open_source(replay, name), name)
    except BrokenPipeError:
        raise
    except (CoughwatchError, OSError) as exc:
        report_error(PROG, exc if isinstance(exc, CoughwatchError) else AudioInputError(f"{name}: {exc}"))
        return False
    if replay.args.summary:
        _print_summary(name, summary)
    return True


def _open_source(replay: _Run, name: str) -> AudioSource:
    rate = replay.model.info.spec.sample_rate
    args = replay.args
    block_s = REALTIME_BLOCK_S if args.realtime else _fast_block_s(replay)
    if name == STDIN:
        return StdinSource(args.raw, args.rate, args.channels, rate, block_s=block_s)
    return FileSource(Path(name), rate, block_s=block_s)


def _fast_block_s(replay: _Run) -> float:
    """About one batch of windows per block (block size never changes results)."""
    _, framing = cliargs.detection_settings(replay.args, replay.model.info)
    return max(1.0, replay.args.batch * framing.hop_samples / framing.sample_rate)


def _stream_start(args: argparse.Namespace, source: AudioSource) -> datetime:
    if args.start_time is not None:
        return args.start_time
    if isinstance(source, FileSource):
        return datetime.fromtimestamp(source.path.stat().st_mtime, tz=timezone.utc)
    return datetime.now(timezone.utc)


def _replay_stream(replay: _Run, source: AudioSource, name: str) -> StreamSummary:
    args, model = replay.args, replay.model
    settings, framing = cliargs.detection_settings(args, model.info)
    context = StreamContext.for_model(
        model, cliargs.device_id(args), source.name, _stream_start(args, source)
    )
    recorder, scores = EventRecorder(), ScoreRecorder()
    listeners: list[ScoreListener] = []
    if replay.csv is not None:
        listeners.append(replay.csv.listener(source.name, framing.sample_rate, framing.window_samples))
    if args.plot is not None:
        listeners.append(scores)
    pipeline = Pipeline(
        replay.scorer, context, settings, framing.hop_samples,
        sinks=[*replay.sinks, recorder], score_listeners=listeners,
        batch_windows=1 if args.realtime else args.batch,
    )  # fmt: skip
    began = time.perf_counter()
    summary = pipeline.run(source, _RealtimePacer(framing.sample_rate) if args.realtime else None)
    elapsed_s = time.perf_counter() - began
    log.info(
        "%s: %.1f s of audio, %d windows, %d event(s), %.0fx real time",
        name, summary.duration_s, summary.windows, summary.events,
        summary.duration_s / elapsed_s if elapsed_s > 0 else float("inf"),
    )  # fmt: skip
    if args.plot is not None:
        starts, values = scores.arrays(len(model.info.labels))
        replay.plots.append(PlotStream(
            source.name, framing.sample_rate, framing.window_samples, starts, values,
            model.info.labels, tuple(recorder.events), settings.threshold_on, settings.threshold_off,
        ))  # fmt: skip
    return summary


def _print_summary(name: str, summary: StreamSummary) -> None:
    line = {
        "file": name,
        "duration_s": round(summary.duration_s, 3),
        "score": round(summary.score, 4),
        "mean_score": round(summary.mean_score, 4),
        "events": summary.events,
    }
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class _RealtimePacer:
    """Sleeps until each block's last sample would have been recorded (``--realtime``)."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._t0: float | None = None

    def __call__(self, end_sample: int) -> None:
        if self._t0 is None:
            self._t0 = time.monotonic()
        delay_s = self._t0 + end_sample / self.sample_rate - time.monotonic()
        if delay_s > 0:
            time.sleep(delay_s)
