"""MQTT settings, password sources, state directory and the --mqtt-* flags (no broker)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from monitor.config.introspect import field_descriptions
from monitor.config.invalid import InvalidSetting
from monitor.config.structs import settings_from
from monitor.errors import ConfigError
from monitor.mqtt.cli import add_mqtt_arguments, mqtt_settings_from_args
from monitor.mqtt.settings import MqttSettings, TlsSettings, load_password
from monitor.mqtt.state_dir import default_state_dir, resolve_state_dir


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_mqtt_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_and_derived_values():
    settings = MqttSettings(host="broker")
    assert settings.effective_port == 1883
    assert settings.prefix_for("kitchen") == "coughwatch/kitchen"
    assert MqttSettings(host="b", tls=TlsSettings()).effective_port == 8883
    assert MqttSettings(host="b", topic_prefix="home/cw").prefix_for("x") == "home/cw"


@pytest.mark.parametrize("fields, key", [
    ({"host": ""}, "host"),
    ({"host": "b", "port": 0}, "port"),
    ({"host": "b", "unknown": 1}, "unknown"),
    ({"host": "b", "topic_prefix": "a/#"}, "topic_prefix"),
    ({"host": "b", "topic_prefix": "a/"}, "topic_prefix"),
    ({"host": "b", "qos": 0}, "qos"),
    ({"host": "b", "protocol": "4"}, "protocol"),
    ({"host": "b", "password_env": "PW"}, ""),  # a password needs a username
    ({"host": "b", "username": "u", "password_env": "PW", "password_file": "/f"}, ""),
    ({"host": "b", "reconnect_min_s": 10, "reconnect_max_s": 5}, ""),
    ({"host": "b", "tls": {"keyfile": "k.pem"}}, "tls"),
    ({"port": 1883}, "host"),
])
def test_invalid_settings_are_rejected(fields, key):
    with pytest.raises(InvalidSetting) as info:
        settings_from(MqttSettings, fields)
    assert ".".join(info.value.key) == key
    assert info.value.message and "\n" not in str(info.value)


def test_settings_are_frozen_and_protocol_accepts_a_toml_number():
    settings = settings_from(MqttSettings, {"host": "b", "protocol": 5})
    assert settings.protocol == "5"
    assert MqttSettings(host="b", protocol=5).protocol == "5"
    with pytest.raises(AttributeError):
        settings.host = "other"  # type: ignore[misc]


def test_environment_strings_are_coerced():
    settings = settings_from(MqttSettings, {
        "host": "b", "port": "1884", "qos": "2", "protocol": "5", "ha_discovery": "yes",
        "flush_timeout_s": "2.5", "password_file": "/run/pw", "username": "u",
        "tls": {"insecure": "off", "ca_file": "/etc/ca.pem"},
    })  # fmt: skip
    assert (settings.port, settings.qos, settings.protocol) == (1884, 2, "5")
    assert settings.ha_discovery is True and settings.flush_timeout_s == 2.5
    assert settings.password_file == Path("/run/pw")
    assert settings.tls == TlsSettings(insecure=False, ca_file=Path("/etc/ca.pem"))


def test_every_field_is_described():
    for model in (MqttSettings, TlsSettings):
        for name, description in field_descriptions(model).items():
            assert description, f"{model.__name__}.{name} has no description"


def test_password_from_file_env_and_credential(tmp_path):
    (tmp_path / "pw").write_text("s3cret\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt").write_text("from-systemd")
    by_file = MqttSettings(host="b", username="u", password_file=tmp_path / "pw")
    by_env = MqttSettings(host="b", username="u", password_env="CW_PW")
    by_cred = MqttSettings(host="b", username="u", password_credential="mqtt")
    assert load_password(by_file, {}) == "s3cret"
    assert load_password(by_env, {"CW_PW": "from-env"}) == "from-env"
    assert load_password(by_cred, {"CREDENTIALS_DIRECTORY": str(creds)}) == "from-systemd"
    assert load_password(MqttSettings(host="b"), {}) is None


@pytest.mark.parametrize("fields, environ, expected", [
    ({"password_file": "/nonexistent/pw"}, {}, "/nonexistent/pw"),
    ({"password_env": "CW_PW"}, {}, "$CW_PW"),
    ({"password_credential": "mqtt"}, {}, "CREDENTIALS_DIRECTORY"),
])
def test_missing_password_source_is_one_clear_error(fields, environ, expected):
    settings = settings_from(MqttSettings, {"host": "b", "username": "u", **fields})
    with pytest.raises(ConfigError, match=expected.replace("$", r"\$")):
        load_password(settings, environ)


def test_redacted_view_names_the_source_never_the_secret(tmp_path):
    (tmp_path / "pw").write_text("s3cret")
    settings = MqttSettings(host="b", username="u", password_file=tmp_path / "pw")
    shown = settings.redacted()
    assert "s3cret" not in repr(shown)
    assert shown["password_file"].startswith("<") and shown["username"] == "u"


def test_state_dir_precedence(tmp_path):
    assert default_state_dir({"STATE_DIRECTORY": "/var/lib/cw:/other"}) == Path("/var/lib/cw")
    assert default_state_dir({"XDG_STATE_HOME": "/x"}) == Path("/x/coughwatch")
    assert default_state_dir({"HOME": "/home/u"}) == Path("/home/u/.local/state/coughwatch")
    made = resolve_state_dir(tmp_path / "a" / "b")
    assert made.is_dir()


def test_unusable_state_dir_is_a_config_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="state directory"):
        resolve_state_dir(tmp_path / "file" / "sub")


def test_flags_build_settings(tmp_path):
    args = parse("--mqtt-host", "h", "--mqtt-port", "1884", "--mqtt-username", "u",
                 "--mqtt-password-file", str(tmp_path / "pw"), "--mqtt-tls-ca", str(tmp_path / "ca"),
                 "--mqtt-protocol", "5", "--flush-timeout", "3", "--mqtt-ha-discovery")
    settings = mqtt_settings_from_args(args)
    assert settings is not None
    assert (settings.host, settings.port, settings.protocol) == ("h", 1884, "5")
    assert settings.tls is not None and settings.tls.ca_file == tmp_path / "ca"
    assert settings.flush_timeout_s == 3 and settings.ha_discovery


def test_no_host_means_no_mqtt_and_stray_flags_are_an_error():
    assert mqtt_settings_from_args(parse()) is None
    with pytest.raises(ConfigError, match="--mqtt-host"):
        mqtt_settings_from_args(parse("--mqtt-username", "u"))
    with pytest.raises(ConfigError, match=r"^MQTT flags: port: must be <= 65535$"):
        mqtt_settings_from_args(parse("--mqtt-host", "h", "--mqtt-port", "70000"))
    with pytest.raises(ConfigError, match=r"^MQTT TLS flags: tls.keyfile given without tls.certfile$"):
        mqtt_settings_from_args(parse("--mqtt-host", "h", "--mqtt-tls-key", "k.pem"))


def test_there_is_no_password_flag():
    with pytest.raises(SystemExit):
        parse("--mqtt-host", "h", "--mqtt-password", "s3cret")
