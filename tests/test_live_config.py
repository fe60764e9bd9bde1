"""`listen` settings: TOML + COUGHWATCH_* environment + flags, validation, redaction."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from monitor.config.introspect import field_descriptions
from monitor.config.settings import AudioSettings, DetectorOverrides, ListenSettings
from monitor.config.sources import ConfigErrors, ConfigSources, load_settings
from monitor.config.structs import SettingsStruct
from monitor.errors import ConfigError
from monitor.history.settings import HistorySettings
from monitor.mqtt.settings import MqttSettings, TlsSettings

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "systemd" / "coughwatch.toml.example"
CLI = [sys.executable, "-c", "import sys; from monitor.cli import main; sys.exit(main())"]


MODELS: list[type[SettingsStruct]] = [ListenSettings, AudioSettings, DetectorOverrides,
                                      MqttSettings, TlsSettings, HistorySettings]


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


def test_every_problem_in_one_table_is_reported(tmp_path):
    config = write(tmp_path, '[audio]\nblock_ms = 1\nqueue_blocks = 1\n'
                             '[mqtt]\nhost = "h"\nport = 0\nqos = 3\ntls = {keyfile = "k", bogus = 1}\n')
    lines = errors_of(config)
    assert sorted(lines) == sorted(f"config: {line} from {config})" for line in [
        "audio.block_ms: must be >= 10 (got 1,",
        "audio.queue_blocks: must be >= 2 (got 1,",
        "mqtt.port: must be >= 1 (got 0,",
        "mqtt.qos: must be one of 1, 2 (got 3,",
    ]) + [f"config: mqtt.tls.bogus: unknown setting (from {config})"]


def test_cross_field_problems_name_the_table_and_the_field(tmp_path):
    config = write(tmp_path, '[mqtt]\nhost = "h"\ntls = {keyfile = "k"}\n')
    assert errors_of(config) == [
        f"config: mqtt.tls: tls.keyfile given without tls.certfile (got {{'keyfile': 'k'}}, from {config})"]
    config = write(tmp_path, '[mqtt]\nhost = "h"\ntopic_prefix = "a/#"\n')
    assert errors_of(config) == ["config: mqtt.topic_prefix: 'a/#': no '#', '+' and no leading or "
                                 f"trailing '/' (got 'a/#', from {config})"]
    assert errors_of(env={"COUGHWATCH_MQTT__PORT": "1884"}) == [
        "config: mqtt.host: required setting is missing (from $COUGHWATCH_MQTT__PORT)"]


def test_wrong_types_are_named_in_plain_words(tmp_path):
    config = write(tmp_path, 'threads = "many"\nmodel = 3\naudio = 5\n[mqtt]\nhost = "h"\nprotocol = "4"\n')
    assert sorted(errors_of(config)) == [f"config: {line} from {config})" for line in [
        "audio: must be a table (got 5,",
        "model: must be a path (got 3,",
        "mqtt.protocol: must be one of '3.1.1', '5' (got '4',",
        "threads: must be an integer (got 'many',",
    ]]


def test_environment_strings_become_numbers_bools_and_paths():
    settings = load(env={"COUGHWATCH_THREADS": " 3 ", "COUGHWATCH_DEBUG": "yes",
                         "COUGHWATCH_HOP_MS": "125.5", "COUGHWATCH_STATE_DIR": "/var/lib/cw",
                         "COUGHWATCH_MQTT__HOST": "h", "COUGHWATCH_MQTT__PROTOCOL": "5",
                         "COUGHWATCH_MQTT__QOS": "2", "COUGHWATCH_MQTT__TLS__INSECURE": "Off"})
    assert (settings.threads, settings.debug, settings.hop_ms) == (3, True, 125.5)
    assert settings.state_dir == Path("/var/lib/cw")
    assert settings.mqtt is not None
    assert (settings.mqtt.protocol, settings.mqtt.qos) == ("5", 2)
    assert settings.mqtt.tls == TlsSettings(insecure=False)
    assert errors_of(env={"COUGHWATCH_DEBUG": "maybe"}) == [
        "config: debug: must be true or false (got 'maybe', from $COUGHWATCH_DEBUG)"]


def test_toml_numbers_where_text_is_expected(tmp_path):
    config = write(tmp_path, '[audio]\ninput_device = 3\n[mqtt]\nhost = "h"\nprotocol = 5\n')
    settings = load(config)
    assert settings.audio.input_device == "3"
    assert settings.mqtt is not None and settings.mqtt.protocol == "5"


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
    missing = [f"{model.__name__}.{info.name}" for model in MODELS
               for info in msgspec.structs.fields(model)
               if not re.search(rf"^#? ?({info.name} =|\[(\w+\.)?{info.name}\])", text, re.MULTILINE)]
    assert missing == []


def test_every_field_is_described():
    undescribed = [f"{model.__name__}.{name}" for model in MODELS
                   for name, description in field_descriptions(model).items() if not description]
    assert undescribed == []


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
    code = ("import sys, monitor.commands.listen, monitor.commands.devices, monitor.live.daemon, "
            "monitor.audio.mic, monitor.live.worker, monitor.live.reload, monitor.live.sdnotify; "
            "sys.exit('torch' in sys.modules or 'sounddevice' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, "torch or sounddevice imported eagerly"
