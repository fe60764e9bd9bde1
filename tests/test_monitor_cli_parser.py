"""``cough-monitor``'s parser imports only the chosen subcommand, yet every ``--help`` stays whole."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import pytest

from monitor.cli import SUBCOMMANDS, build_parser

HEAVY_FOR_LISTEN = ("monitor.commands.replay", "monitor.commands.plot", "monitor.audio.sources", "soundfile", "soxr",
                    "matplotlib", "jsonschema", "pydantic", "torch", "sounddevice", "paho")
"""Modules ``cough-monitor listen`` must not load at start (they cost resident memory)."""


def help_text(argv: list[str], load: tuple[str, ...] | None = None) -> str:
    parser = build_parser() if load is None else build_parser(load=load)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        parser.parse_args([*argv, "--help"])
    return out.getvalue()


def test_top_level_help_lists_every_subcommand_without_importing_any():
    code = ("import sys, io; from monitor.cli import SUBCOMMANDS, build_parser; "
            "out = io.StringIO(); build_parser(load=()).print_help(out); "
            "loaded = [s.module for s in SUBCOMMANDS.values() if s.module in sys.modules]; "
            "print(loaded, out.getvalue())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("[] ")
    assert help_text([], load=()) == help_text([])
    for name, sub in SUBCOMMANDS.items():
        assert f"    {name}" in done.stdout and sub.help_line.split()[0] in done.stdout


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_each_subcommand_help_is_the_same_when_loaded_alone(name):
    assert help_text([name], load=(name,)) == help_text([name])


def test_listen_loads_nothing_heavy_it_does_not_need():
    code = ("import sys; from monitor.cli import build_parser; "
            "build_parser(load=('listen',)).parse_args(['listen']); "
            f"print([m for m in {HEAVY_FOR_LISTEN!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
