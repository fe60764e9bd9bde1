"""`cough-monitor listen` facing faults: a config that is not UTF-8 (at start and on a real
SIGHUP), the example config's password variable, every cross-field problem at once, and a full
outbox disk under the running daemon (PulseAudio null sink as the microphone, real mosquitto)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from fx_mosquitto import event_ids, make_password_file
from test_live_daemon import PREFIX, cough_wav, notify, start_listen  # noqa: F401
from test_mqtt_outbox_faults import fill, small_tmpfs  # noqa: F401

from monitor.config.sources import ConfigErrors, ConfigSources, load_settings
from monitor.mqtt.settings import load_password

EXAMPLE = Path(__file__).resolve().parents[1] / "systemd" / "coughwatch.toml.example"
NOT_UTF8 = b"[detector]\nthreshold = 0.4\n# caf\xe9 au lait\n"
PASSWORD_VAR = "COUGHWATCH_MQTT_PASSWORD"


def example_with_password_env(tmp_path: Path) -> Path:
    """The shipped example with its `username` and `password_env` lines switched on."""
    text = EXAMPLE.read_text()
    for line in ('# username = "coughwatch"', f'# password_env = "{PASSWORD_VAR}"'):
        assert line in text, f"the example no longer suggests {line!r}"
        text = text.replace(line, line.removeprefix("# "))
    path = tmp_path / "coughwatch.toml"
    path.write_text(text)
    return path


def wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def test_non_utf8_config_at_start_is_one_line(monitor_cli, tmp_path):
    config = tmp_path / "c.toml"
    config.write_bytes(NOT_UTF8)
    result = monitor_cli(["listen", "--config", str(config)])
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.error_lines() == [f"cough-monitor: error: {config}: not UTF-8 text (byte 0xe9 "
                                    "at offset 32); TOML files must be UTF-8"]


def test_the_example_password_variable_is_a_secret_not_a_setting(tmp_path):
    config = example_with_password_env(tmp_path)
    environ = {PASSWORD_VAR: "s3cret", "COUGHWATCH_MQTT__PORT": "1884"}
    settings = load_settings(ConfigSources(config_file=config, environ=environ))
    assert settings.mqtt is not None and settings.mqtt.port == 1884
    assert load_password(settings.mqtt, environ) == "s3cret"
    assert "s3cret" not in json.dumps(settings.redacted())
    with pytest.raises(ConfigErrors, match="mqtt_passwordx: unknown setting"):  # others still are
        load_settings(ConfigSources(config_file=config, environ={**environ,
                                                                  "COUGHWATCH_MQTT_PASSWORDX": "1"}))


def test_every_cross_field_problem_of_a_table_is_reported(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[mqtt]\nhost = "h"\ntopic_prefix = "a/#"\npassword_file = "/pw"\n'
                      'password_env = "PW"\nreconnect_min_s = 10\nreconnect_max_s = 5\n')
    with pytest.raises(ConfigErrors) as caught:
        load_settings(ConfigSources(config_file=config, environ={}))
    lines = caught.value.lines
    assert len(lines) == 4, lines
    for words in ("mqtt.topic_prefix", "at most one of", "needs a username", "reconnect_max_s"):
        assert sum(words in line for line in lines) == 1, (words, lines)


@pytest.mark.slow
def test_sighup_with_a_non_utf8_config_is_logged_and_ignored(start_listen, notify, pulse,  # noqa: F811
                                                             cough_wav, tmp_path):  # noqa: F811
    config = tmp_path / "coughwatch.toml"
    config.write_text("[detector]\nthreshold = 0.4\n")
    listen = start_listen("--config", str(config))
    notify.wait_for("READY", "1")
    config.write_bytes(NOT_UTF8)
    hup_at = time.monotonic()
    listen.proc.send_signal(signal.SIGHUP)
    notify.wait_for("READY", "1", since=hup_at)
    wait_until(lambda: "reload rejected" in listen.log(), 5, "the reload to be rejected")
    assert "not UTF-8" in listen.log()
    assert listen.proc.poll() is None, listen.log()
    pulse.play(cough_wav)  # still listening, with the previous settings
    wait_until(lambda: listen.stdout, 10, "an event after the rejected reload")
    assert listen.stop() == 0
    assert "Traceback" not in listen.log()


@pytest.mark.slow
def test_listen_with_the_example_config_logs_in_with_the_password_variable(
        start_listen, notify, broker_factory, subscriber_factory, tmp_path):  # noqa: F811
    users = {"coughwatch": "s3cret"}
    broker = broker_factory(password_file=make_password_file(tmp_path / "passwd", users))
    sub = subscriber_factory(broker, [f"{PREFIX}/status"],
                             extra=["-u", "coughwatch", "-P", "s3cret"])
    listen = start_listen("--config", str(example_with_password_env(tmp_path)), broker=broker,
                          env={PASSWORD_VAR: "s3cret"})
    notify.wait_for("READY", "1")
    sub.wait_for(lambda ms: ms and ms[-1].payload == "online", what="online, logged in")
    assert listen.stop() == 0, listen.log()
    assert "config:" not in listen.log() and "s3cret" not in listen.log()


@pytest.mark.slow
def test_full_outbox_disk_never_stops_the_daemon(start_listen, notify, pulse, mosquitto,  # noqa: F811
                                                 subscriber_factory, cough_wav,  # noqa: F811
                                                 small_tmpfs):  # noqa: F811
    sub = subscriber_factory(mosquitto, [f"{PREFIX}/#"])
    listen = start_listen("--state-dir", str(small_tmpfs), broker=mosquitto)
    notify.wait_for("READY", "1")
    sub.wait_for(lambda ms: any(m.topic == f"{PREFIX}/status" and m.payload == "online"
                                for m in ms), what="status online")
    filler = fill(small_tmpfs)
    filled_at = time.monotonic()

    pulse.play(cough_wav)
    wait_until(lambda: len(listen.stdout) == 1, 10, "the first event on stdout")
    notify.wait_for("STATUS", "outbox cannot be written", since=filled_at)
    sub.wait_for(lambda ms: any(m.topic == f"{PREFIX}/stats"
                                and json.loads(m.payload)["outbox_error"] for m in ms),
                 what="stats naming the outbox error")
    pulse.play(cough_wav)  # the worker is alive: the next cough is found too
    wait_until(lambda: len(listen.stdout) == 2, 10, "the second event on stdout")
    assert listen.proc.poll() is None, listen.log()

    filler.unlink()  # room again: both events go out, in order
    printed = [json.loads(line)["event_id"] for line in listen.stdout]
    assert event_ids(sub.wait_count(f"{PREFIX}/event", 2, timeout_s=15)) == printed
    sub.wait_for(lambda ms: json.loads([m for m in ms if m.topic == f"{PREFIX}/stats"][-1]
                                       .payload)["outbox_error"] is None,
                 what="stats with the outbox error gone")
    assert listen.stop() == 0
    log = listen.log()
    assert log.count("cannot be written") == 1 and "Traceback" not in log, log
