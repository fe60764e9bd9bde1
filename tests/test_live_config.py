"""`listen` settings: TOML + COUGHWATCH_* environment + flags, validation, redaction."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from monitor.config import AudioSettings, DetectorOverrides, ListenSettings
from monitor.config_sources import ConfigErrors, ConfigSources, load_settings
from monitor.errors import ConfigError
from monitor.mqtt.settings import MqttSettings, TlsSettings

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "systemd" / "coughwatch.toml.example"
CLI = [sys.executable, "-c", "import sys; from monitor.cli import main; sys.exit(main())"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "coughwatch.toml"
    path.write_text(text)
    return path


def load(config: Path | None = None, env: dict[str, str] | None = None, **flags: object):
    return load_settings(ConfigSources(config, env or {}, flags))


def errors_of(config: Path | None = None, env: dict[str, str] | None = None, **flags: object):
    with pytest.raises(ConfigErrors) as info:
        load(config, env, **flags)
    return info.value.lines


def test_defaults_need_no_file():
    settings = load()
    assert settings.mqtt is None
    assert settings.audio.stall_timeout_s == 5.0
    assert settings.threads == 1


def test_flags_beat_environment_beat_file(tmp_path):
    config = write(tmp_path, 'threads = 2\ndevice_id = "file"\n[mqtt]\nhost = "from-file"\nport = 1000\n')
    env = {"COUGHWATCH_DEVICE_ID": "env", "COUGHWATCH_MQTT__PORT": "2000",
           "COUGHWATCH_AUDIO__INPUT_DEVICE": "3"}
    settings = load(config, env, **{"mqtt.port": 3000, "threads": None})
    assert settings.threads == 2  # a flag that was not given does not override
    assert settings.device_id == "env"
    assert settings.mqtt is not None
    assert (settings.mqtt.host, settings.mqtt.port) == ("from-file", 3000)
    assert settings.audio.input_device == "3"


def test_environment_alone_can_configure_mqtt():
    settings = load(env={"COUGHWATCH_MQTT__HOST": "broker", "COUGHWATCH_MQTT__HA_DISCOVERY": "true"})
    assert settings.mqtt == MqttSettings(host="broker", ha_discovery=True)


def test_config_file_can_come_from_environment(tmp_path):
    config = write(tmp_path, "stats_interval_s = 5\n")
    assert load(env={"COUGHWATCH_CONFIG": str(config)}).stats_interval_s == 5


def test_every_problem_is_one_line_naming_key_value_and_source(tmp_path):
    config = write(tmp_path, "bogus = 1\n[audio]\nblock_ms = 5\n")
    lines = errors_of(config, {"COUGHWATCH_DEVICE_ID": "a/b"}, **{"mqtt.host": "h", "mqtt.port": 70000})
    assert len(lines) == 4
    text = "\n".join(lines)
    assert f"config: bogus: unknown setting (from {config})" in text
    assert re.search(rf"config: audio.block_ms: .*10 \(got 5, from {re.escape(str(config))}\)", text)
    assert re.search(r"config: device_id: .*\(got 'a/b', from \$COUGHWATCH_DEVICE_ID\)", text)
    assert re.search(r"config: mqtt.port: .*65535 \(got 70000, from --mqtt-port\)", text)
    assert all("\n" not in line for line in lines)


def test_unknown_environment_setting_is_an_error():
    assert errors_of(env={"COUGHWATCH_AUDIO__LOUDNESS": "11"}) == [
        "config: audio.loudness: unknown setting (from $COUGHWATCH_AUDIO__LOUDNESS)"
    ]


def test_missing_and_malformed_files_are_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.toml: config file not found"):
        load(tmp_path / "nope.toml")
    bad = write(tmp_path, "threads = \n")
    with pytest.raises(ConfigError, match=r"coughwatch.toml: invalid TOML: .*line 1"):
        load(bad)


def test_mqtt_password_source_needs_a_username(tmp_path):
    config = write(tmp_path, '[mqtt]\nhost = "h"\npassword_credential = "mqtt_password"\n')
    assert errors_of(config) == ["config: mqtt: a password needs a username (got {'host': 'h', "
                                 "'password_credential': 'mqtt_password'}, from " + f"{config})"]


def test_redacted_config_names_password_sources_only(tmp_path):
    secret_file = tmp_path / "pw"
    secret_file.write_text("hunter2\n")
    config = write(tmp_path, f'[mqtt]\nhost = "h"\nusername = "u"\npassword_file = "{secret_file}"\n')
    shown = json.dumps(load(config).redacted())
    assert "hunter2" not in shown
    assert f"<{secret_file}>" in shown


def test_example_file_is_valid_and_documents_every_key():
    settings = load(EXAMPLE)
    assert settings.mqtt is not None and settings.mqtt.host == "localhost"
    text = EXAMPLE.read_text()
    models: list[type[BaseModel]] = [ListenSettings, AudioSettings, DetectorOverrides,
                                     MqttSettings, TlsSettings]
    missing = [f"{model.__name__}.{name}" for model in models for name in model.model_fields
               if not re.search(rf"^#? ?({name} =|\[(\w+\.)?{name}\])", text, re.MULTILINE)]
    assert missing == []


def test_listen_rejects_bad_config_with_one_line_per_error(tmp_path):
    config = write(tmp_path, "threads = 0\nunknown_key = true\n")
    done = subprocess.run([*CLI, "listen", "--config", str(config)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr
    assert all(line.startswith("cough-monitor: error: config: ") for line in lines)
    assert "Traceback" not in done.stderr


def test_listen_reports_invalid_toml_in_one_line(tmp_path):
    config = write(tmp_path, "[audio\n")
    done = subprocess.run([*CLI, "listen", "--config", str(config)], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"cough-monitor: error: {config}: invalid TOML")


def test_listen_with_a_missing_model_is_one_clear_line(tmp_path):
    done = subprocess.run([*CLI, "listen", "--model", str(tmp_path / "nope.onnx")],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert errors == [f"cough-monitor: error: {tmp_path / 'nope.onnx'}: model file not found"]


def test_live_modules_never_import_torch():
    code = ("import sys, monitor.listen, monitor.devices, monitor.daemon, monitor.mic, "
            "monitor.live_worker, monitor.live_reload, monitor.sdnotify; "
            "sys.exit('torch' in sys.modules or 'sounddevice' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, "torch or sounddevice imported eagerly"
