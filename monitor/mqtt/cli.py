"""``--mqtt-*`` command-line flags (for ``cough-monitor replay``) and building the sink from them.

The password is never a flag: ``--mqtt-password-file`` or ``--mqtt-password-env``.
paho is imported only when ``--mqtt-host`` is given.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.config.invalid import InvalidSetting
from monitor.config.structs import settings_from
from monitor.errors import ConfigError
from monitor.mqtt.settings import DEFAULT_FLUSH_TIMEOUT_S, MqttSettings, TlsSettings

if TYPE_CHECKING:
    from monitor.mqtt.sink import MqttSink
    from monitor.output.sinks import EventSink
    from monitor.scoring.modelfile import LoadedModel


def add_mqtt_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the MQTT flag group to ``parser`` (all optional; MQTT is off without --mqtt-host)."""
    group = parser.add_argument_group(
        "MQTT", "publish events to a broker as well (durable outbox: nothing is lost)")
    add = group.add_argument
    add("--mqtt-host", metavar="H", help="broker host; enables MQTT")
    add("--mqtt-port", type=int, metavar="P", help="broker port (default: 1883, 8883 with TLS)")
    add("--mqtt-protocol", choices=("3.1.1", "5"), default="3.1.1", help="MQTT version (default: 3.1.1)")  # fmt: skip
    add("--mqtt-client-id", metavar="ID", help="client id (default: coughwatch-<device-id>-<random>)")  # fmt: skip
    add("--mqtt-topic-prefix", metavar="P", help="topic prefix (default: coughwatch/<device-id>)")
    add("--mqtt-username", metavar="U", help="broker user name")
    add("--mqtt-password-file", type=Path, metavar="F", help="read the password from file F")
    add("--mqtt-password-env", metavar="VAR", help="read the password from environment variable VAR")  # fmt: skip
    add("--mqtt-tls", action="store_true", help="use TLS with the system's CA store")
    add("--mqtt-tls-ca", type=Path, metavar="F", help="use TLS; trust the CA(s) in PEM file F")
    add("--mqtt-tls-cert", type=Path, metavar="F", help="TLS client certificate (PEM)")
    add("--mqtt-tls-key", type=Path, metavar="F", help="TLS client key (PEM)")
    add("--mqtt-tls-insecure", action="store_true", help="skip the TLS host name check (tests only)")  # fmt: skip
    add("--mqtt-ha-discovery", action="store_true", help="publish Home Assistant discovery configs")  # fmt: skip
    add("--flush-timeout", type=float, default=DEFAULT_FLUSH_TIMEOUT_S, metavar="S",
        help=f"before exiting, wait up to S seconds for the outbox to drain (default: {DEFAULT_FLUSH_TIMEOUT_S:g}); "
        "what is left stays for the next run and the exit status is 4")  # fmt: skip
    add("--state-dir", type=Path, metavar="DIR",
        help="directory of the durable outbox and the cough history (default: $STATE_DIRECTORY, else "
        "$XDG_STATE_HOME/coughwatch or ~/.local/state/coughwatch)")


def mqtt_settings_from_args(args: argparse.Namespace) -> MqttSettings | None:
    """The settings the flags describe; ``None`` without ``--mqtt-host``.

    Raises :class:`ConfigError` (one line) for inconsistent flags.
    """
    if not args.mqtt_host:
        if _mqtt_flags_given(args):
            raise ConfigError("--mqtt-* flags need --mqtt-host")
        return None
    fields: dict[str, Any] = {
        "host": args.mqtt_host, "port": args.mqtt_port, "protocol": args.mqtt_protocol,
        "client_id": args.mqtt_client_id, "topic_prefix": args.mqtt_topic_prefix,
        "username": args.mqtt_username, "password_file": args.mqtt_password_file,
        "password_env": args.mqtt_password_env, "ha_discovery": args.mqtt_ha_discovery,
        "flush_timeout_s": args.flush_timeout, "tls": _tls_from_args(args),
    }  # fmt: skip
    try:
        return settings_from(MqttSettings, {k: v for k, v in fields.items() if v is not None})
    except InvalidSetting as exc:
        raise ConfigError("MQTT flags: " + "; ".join(map(str, exc.all))) from exc


def build_mqtt_sink(
    args: argparse.Namespace, model: LoadedModel, device_id: str
) -> MqttSink | None:
    """The MQTT sink the flags ask for (started), or ``None`` without ``--mqtt-host``."""
    settings = mqtt_settings_from_args(args)
    if settings is None:
        return None
    from monitor.mqtt.sink import make_mqtt_sink  # imports paho
    from monitor.mqtt.state_dir import resolve_state_dir

    return make_mqtt_sink(settings, model, device_id, resolve_state_dir(args.state_dir))


def undelivered_events(sinks: Iterable[EventSink]) -> int:
    """Events left in MQTT outboxes by the (closed) sinks; the sink already logged where."""
    return sum(int(getattr(sink, "undelivered", 0)) for sink in sinks)


def _tls_from_args(args: argparse.Namespace) -> TlsSettings | None:
    files: Sequence[Path | None] = (args.mqtt_tls_ca, args.mqtt_tls_cert, args.mqtt_tls_key)
    if not (args.mqtt_tls or args.mqtt_tls_insecure or any(files)):
        return None
    fields = {"ca_file": args.mqtt_tls_ca, "certfile": args.mqtt_tls_cert,
              "keyfile": args.mqtt_tls_key, "insecure": args.mqtt_tls_insecure}
    try:
        return settings_from(TlsSettings, {k: v for k, v in fields.items() if v is not None})
    except InvalidSetting as exc:
        raise ConfigError("MQTT TLS flags: " + "; ".join(map(str, exc.all))) from exc


def _mqtt_flags_given(args: argparse.Namespace) -> bool:
    names = ("mqtt_port", "mqtt_client_id", "mqtt_topic_prefix", "mqtt_username",
             "mqtt_password_file", "mqtt_password_env", "mqtt_tls_ca", "mqtt_tls_cert",
             "mqtt_tls_key")
    flags = ("mqtt_tls", "mqtt_tls_insecure", "mqtt_ha_discovery")
    return any(getattr(args, n) is not None for n in names) or any(getattr(args, f) for f in flags)
