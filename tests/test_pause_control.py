"""The pause state machine: which command wins, and what is ignored (no MQTT needed)."""

from __future__ import annotations

import logging

from monitor.live.pause import PauseControl


def test_commands_pause_and_resume_and_report_each_change():
    control, seen = PauseControl(), []
    control.on_change(seen.append)
    assert control.command(b"OFF") and control.paused and control.payload == "OFF"
    assert control.command(b" on\n") and not control.paused and control.payload == "ON"
    assert seen == [True, False] and control.set_by == "MQTT command"


def test_a_retained_command_seen_again_does_not_undo_a_newer_config_change():
    control = PauseControl(paused=False)
    control.command(b"OFF", retained=True)  # on the first connection: applied
    assert control.paused
    control.config_changed(old_paused=False, new_paused=False)  # unchanged key: no effect
    assert control.paused
    control.config_changed(old_paused=True, new_paused=False)  # changed: applies
    assert not control.paused and control.set_by == "config"
    assert not control.command(b"OFF", retained=True)  # the broker re-sends it on reconnect
    assert not control.paused
    assert control.command(b"OFF")  # a live command always applies
    assert control.paused


def test_garbage_is_ignored_and_logged_once_until_a_valid_command(caplog):
    control = PauseControl()
    for payload in (b"maybe", b"O" * 100_000, b"\xff\xfe", b"OFFF", b"ON OFF"):
        assert not control.command(payload)
    assert not control.command(b"")  # clearing the retained command: silent
    assert not control.paused
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "b'maybe'" in warnings[0].getMessage()
    control.command(b"ON")
    control.command(b"later garbage")
    assert sum(r.levelno >= logging.WARNING for r in caplog.records) == 2


def test_an_oversize_command_is_logged_by_its_size_not_its_content(caplog):
    PauseControl().command(b"OFF" + b"x" * 5000)
    assert "5003 bytes" in caplog.text and "xxxx" not in caplog.text
