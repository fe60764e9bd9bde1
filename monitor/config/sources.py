"""Building :class:`~monitor.config.settings.ListenSettings` from a TOML file, the environment and flags.

Later sources win, key by key: TOML file < ``COUGHWATCH_*`` variables <
command-line flags. Environment names map to keys with ``__`` between table
and key, e.g. ``COUGHWATCH_MQTT__HOST`` -> ``mqtt.host``,
``COUGHWATCH_AUDIO__INPUT_DEVICE`` -> ``audio.input_device``; empty variables
are ignored, and so is a variable that ``mqtt.password_env`` names (e.g.
``COUGHWATCH_MQTT_PASSWORD``): it holds a secret, not a setting. Validation errors become one line each, naming the key and the
source of its value; every problem is reported, not only the first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from monitor.config.invalid import InvalidSetting
from monitor.config.settings import ListenSettings
from monitor.config.structs import problems, settings_from
from monitor.errors import ConfigError
from monitor.netaudio.url import redact_url

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENV_PREFIX: Final = "COUGHWATCH_"
ENV_NESTING: Final = "__"
ENV_CONFIG_FILE: Final = "COUGHWATCH_CONFIG"
"""Names the TOML file when ``--config`` is not given (not a setting itself)."""
SECRET_SOURCE_KEYS: Final = (("mqtt", "password_env"),)
"""Settings that name an environment variable holding a secret: that variable is never
read as a setting, whatever its name."""

Key = tuple[str, ...]


class ConfigErrors(ConfigError):
    """Several configuration problems; ``lines`` has one message per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class ConfigSources:
    """Where settings come from; kept so SIGHUP can rebuild the same way."""

    config_file: Path | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    flags: Mapping[str, Any] = field(default_factory=dict)
    """Dotted key -> value from the command line (None values are ignored)."""

    def effective_config_file(self) -> Path | None:
        """``--config``, else ``$COUGHWATCH_CONFIG``, else None."""
        if self.config_file is not None:
            return self.config_file
        named = self.environ.get(ENV_CONFIG_FILE, "")
        return Path(named) if named else None


def load_settings(sources: ConfigSources) -> ListenSettings:
    """Merge and validate; raise :class:`ConfigErrors` with one line per problem."""
    tree: dict[str, Any] = {}
    origin: dict[Key, str] = {}
    config_file = sources.effective_config_file()
    file_tree = read_toml(config_file) if config_file is not None else {}
    if config_file is not None:
        _merge(tree, origin, file_tree, str(config_file))
    env = [(_nest(key, value), name) for key, value, name in env_items(sources.environ)]
    flags = [_nest(tuple(dotted.split(".")), value) for dotted, value in sources.flags.items()]
    secret_names = secret_variables([file_tree, *(t for t, _ in env), *flags])
    for env_tree, name in env:
        if name not in secret_names:
            _merge(tree, origin, env_tree, f"${name}")
    for dotted, value in sources.flags.items():
        if value is not None:
            _merge(tree, origin, _nest(tuple(dotted.split(".")), value), _flag_name(dotted))
    found = problems(ListenSettings, tree)
    if found:
        raise ConfigErrors([_describe(problem, tree, origin) for problem in found])
    return settings_from(ListenSettings, tree)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a missing or malformed file is one clear :class:`ConfigError`."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # tomllib decodes UTF-8 itself and lets this through
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                          f"offset {exc.start}); TOML files must be UTF-8") from None


def env_items(environ: Mapping[str, str]) -> list[tuple[Key, str, str]]:
    """``(key path, value, variable name)`` for every non-empty ``COUGHWATCH_*`` setting."""
    items = []
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG_FILE or value == "":
            continue
        key = tuple(part.lower() for part in name[len(ENV_PREFIX):].split(ENV_NESTING))
        if all(key):
            items.append((key, value, name))
    return items


def secret_variables(trees: list[Mapping[str, Any]]) -> set[str]:
    """Names of the variables that any of ``trees`` gives as a secret source (``password_env``)."""
    names = set()
    for tree in trees:
        for key in SECRET_SOURCE_KEYS:
            found, value = _value_at(tree, key)
            if found and isinstance(value, str) and value.strip():
                names.add(value.strip())
    return names


def _nest(key: Key, value: Any) -> dict[str, Any]:
    tree: dict[str, Any] = {key[-1]: value}
    for part in reversed(key[:-1]):
        tree = {part: tree}
    return tree


def _merge(
    into: dict[str, Any], origin: dict[Key, str], update: Mapping[str, Any], source: str,
    prefix: Key = (),
) -> None:
    """Deep-merge ``update`` into ``into``, recording the source of every leaf."""
    for name, value in update.items():
        key = (*prefix, name)
        if isinstance(value, Mapping) and isinstance(into.get(name), dict):
            _merge(into[name], origin, value, source, key)
            continue
        into[name] = dict(value) if isinstance(value, Mapping) else value
        _record(origin, key, value, source)


def _record(origin: dict[Key, str], key: Key, value: Any, source: str) -> None:
    origin[key] = source
    if isinstance(value, Mapping):
        for name, inner in value.items():
            _record(origin, (*key, name), inner, source)


def _describe(exc: InvalidSetting, tree: Mapping[str, Any], origin: Mapping[Key, str]) -> str:
    """One line: ``mqtt.port: must be <= 65535 (got 70000, from --mqtt-port)``."""
    key = exc.key
    source = next((origin[key[:n]] for n in range(len(key), 0, -1) if key[:n] in origin), None)
    details = []
    found, value = _value_at(tree, key)
    if exc.shows_value and found:
        details.append(f"got {_short_repr(value)}")
    if source:
        details.append(f"from {source}")
    suffix = f" ({', '.join(details)})" if details else ""
    return f"config: {'.'.join(key) or 'config'}: {exc.message}{suffix}"


def _value_at(tree: Mapping[str, Any], key: Key) -> tuple[bool, Any]:
    """``(True, value)`` at ``key`` in the merged tree, ``(False, None)`` where there is none."""
    value: Any = tree
    for part in key:
        if not isinstance(value, Mapping) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _short_repr(value: Any) -> str:
    text = redact_url(repr(value))  # a URL's user:password@ never reaches the log
    return text if len(text) <= 60 else text[:57] + "..."


def _flag_name(dotted: str) -> str:
    return FLAG_NAMES.get(dotted, "--" + dotted.split(".")[-1].replace("_", "-"))


FLAG_NAMES: Final[dict[str, str]] = {
    "audio.input_device": "--input-device",
    "audio.input_url": "--input",
    "mqtt.host": "--mqtt-host",
    "mqtt.port": "--mqtt-port",
    "detector.threshold": "--threshold",
}
"""Dotted keys whose command-line flag is not simply ``--<last part>``."""
