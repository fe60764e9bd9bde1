"""``python -m bench [--quick] [--only NAME ...] [--out bench/results]``: run the suite.

Each benchmark is a module with ``NAME`` and ``run(ctx) -> BenchResult``. A
failing benchmark is reported in one line (and in the table) and the others
still run; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from bench.context import Context
from bench.models import DEFAULT_MODEL_ENV
from bench.report import BenchResult, load_average, machine_info, summary_markdown, write_result

log = logging.getLogger("bench")

BENCHMARKS: Final[dict[str, str]] = {
    "replay": "bench.b_replay",
    "latency": "bench.b_latency",
    "live": "bench.b_live",
    "startup": "bench.b_startup",
    "training": "bench.b_training",
    "export": "bench.b_export",
}
"""Name -> module, in running order."""
DEFAULT_OUT: Final = Path("bench/results")
SUMMARY_NAME: Final = "summary.md"


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m bench`` command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="coughwatch performance suite: replay throughput, scoring latency, live CPU/"
        "RSS/latency, start-up, training and export. Writes OUT/<name>.json and OUT/summary.md "
        "and prints one markdown table. Not tests: figures, medians over repeats, on this machine.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="shortened smoke run (60 s audio, 10 s live, 1 repeat); not for publication")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), metavar="NAME",
                        help=f"run only these benchmarks ({', '.join(BENCHMARKS)})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help=f"where the JSON files and summary.md go (default: {DEFAULT_OUT})")
    parser.add_argument("--keep-work", action="store_true",
                        help="keep the scratch folder (generated audio, models, logs) and print its path")
    parser.add_argument("--debug", action="store_true", help="verbose logging on stderr")
    parser.add_argument("--default-model", type=Path, default=None, metavar="FILE.onnx",
                        help="measure this model file as 'default' (replay, latency, live, start-up) "
                        "instead of the shipped monitor/models/default.onnx: a candidate before it ships")
    return parser


def run_one(name: str, ctx: Context) -> BenchResult:
    """Run benchmark ``name``; an exception becomes ``result.error`` (one line)."""
    began = time.perf_counter()
    try:
        result = importlib.import_module(BENCHMARKS[name]).run(ctx)
    except Exception as exc:  # a benchmark may fail in many ways; the others still run
        log.debug("benchmark %s failed", name, exc_info=True)
        result = BenchResult(name, error=_one_line(exc))
    result.seconds = time.perf_counter() - began
    return result


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300]}" if text else type(exc).__name__


def _configure_logging(debug: bool) -> None:
    """Our progress lines on stderr; other libraries only from WARNING (the exporter is chatty)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("bench: %(message)s"))
    handler.addFilter(lambda record: record.name.startswith("bench") or record.levelno >= logging.WARNING)
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("bench").setLevel(logging.DEBUG if debug else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (1 when a benchmark failed)."""
    args = build_parser().parse_args(argv)
    _configure_logging(args.debug)
    if args.default_model is not None:
        if not args.default_model.is_file():
            print(f"python -m bench: error: --default-model {args.default_model}: no such file", file=sys.stderr)
            return 2
        os.environ[DEFAULT_MODEL_ENV] = str(args.default_model.resolve())  # also for the worker processes
    names = args.only or list(BENCHMARKS)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        probe = args.out / ".write-test.tmp"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        print(f"python -m bench: error: --out {args.out}: not writable ({exc.strerror or exc})",
              file=sys.stderr)
        return 2
    machine, load_start = machine_info(), load_average()
    work = Path(tempfile.mkdtemp(prefix="coughwatch-bench-"))
    ctx = Context(quick=args.quick, work_dir=work)
    results = []
    try:
        for name in names:
            log.info("running %s%s (load average %s)", name, " (quick)" if args.quick else "",
                     load_average())
            before = load_average()
            result = run_one(name, ctx)
            results.append(result)
            path = write_result(result, machine, args.out, args.quick, before)
            log.info("%s: %s in %.0f s -> %s", name, "FAILED: " + result.error if result.error
                     else "done", result.seconds, path)
    finally:
        if args.keep_work:
            log.info("scratch folder kept: %s", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    summary = summary_markdown(results, machine, args.quick, load_start)
    (args.out / SUMMARY_NAME).write_text(summary, encoding="utf-8")
    print(summary)
    return 1 if any(r.error for r in results) else 0
