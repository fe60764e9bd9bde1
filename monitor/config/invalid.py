"""A settings problem as key + plain words, translated from msgspec's validation messages.

msgspec says ``Expected `int` <= 65535 - at `$.mqtt.port```; users read
``mqtt.port: must be <= 65535``. Messages raised by ``__post_init__`` checks
are already written for users and pass through; one that starts with
``"<field>: "`` is blamed on that field.
"""

from __future__ import annotations

import re
from typing import Any, Final

from monitor.config.introspect import Key, field_types, literal_values, struct_arm, type_at
from monitor.errors import ConfigError


class InvalidSetting(ConfigError):
    """One invalid setting: ``key`` (a path of field names), ``message`` in plain words.

    ``shows_value`` is False when there is no offending value to quote (an
    unknown or a missing key).
    """

    def __init__(self, key: Key, message: str, shows_value: bool = True) -> None:
        super().__init__(f"{'.'.join(key)}: {message}" if key else message)
        self.key = key
        self.message = message
        self.shows_value = shows_value
        self.all: list[InvalidSetting] = [self]
        """Every problem found together with this one (this one first)."""

    def under(self, name: str) -> InvalidSetting:
        """The same problem(s), seen from the table that holds ``name``."""
        return _together([InvalidSetting((name, *p.key), p.message, p.shows_value)
                          for p in self.all])


_WHERE: Final = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_FIELD_NAMED: Final = re.compile(r"^Object (?P<what>contains unknown|missing required) field `(?P<name>[^`]*)`$")  # fmt: skip
_EXPECTED: Final = re.compile(r"^Expected `(?P<kind>[^`]+)`(?P<rest>.*)$")
_TYPE_WORDS: Final[dict[str, str]] = {
    "int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
    "object": "a table", "Path": "a path", "array": "a list",
}  # fmt: skip


def readable(kind: Any, text: str) -> InvalidSetting:
    """msgspec's message ``text`` for a value converted to ``kind``, as an :class:`InvalidSetting`."""
    parts = _WHERE.match(text)
    message, path = (parts["message"], parts["path"] or "") if parts else (text, "")
    key: Key = tuple(part for part in path.split(".") if part)
    named = _FIELD_NAMED.match(message)
    if named:
        gone = named["what"] == "missing required"
        return InvalidSetting((*key, named["name"]), "required setting is missing" if gone
                              else "unknown setting", shows_value=False)  # fmt: skip
    if message.startswith("Invalid enum value"):
        allowed = literal_values(type_at(kind, key))
        return InvalidSetting(key, "must be one of " + ", ".join(map(repr, allowed))
                              if allowed else "invalid value")  # fmt: skip
    if message.startswith("Expected `"):
        return InvalidSetting(key, _plain(message))
    return _from_check(kind, key, message)


def _together(problems: list[InvalidSetting]) -> InvalidSetting:
    """The first of ``problems``, carrying all of them in ``all``."""
    problems[0].all = problems
    return problems[0]


def _from_check(kind: Any, key: Key, message: str) -> InvalidSetting:
    """``__post_init__`` message(s), one per line; ``"name: ..."`` blames the struct's field."""
    lines = [line for line in message.splitlines() if line.strip()] or [message]
    return _together([_one_check(kind, key, line) for line in lines])


def _one_check(kind: Any, key: Key, message: str) -> InvalidSetting:
    name, _, rest = message.partition(": ")
    struct = struct_arm(type_at(kind, key))
    if rest and struct is not None and name in field_types(struct):
        return InvalidSetting((*key, name), rest)
    return InvalidSetting(key, message)


def _plain(message: str) -> str:
    """msgspec's wording of a type or bound problem as ``must be ...``."""
    expected = _EXPECTED.match(message)
    if expected is None:
        return message
    kinds = [_TYPE_WORDS.get(k, f"`{k}`") for k in expected["kind"].split(" | ") if k != "null"]
    rest = expected["rest"]
    if rest.startswith(", got") or not rest:
        return "must be " + " or ".join(kinds)
    if rest.startswith(" of length >= "):
        least = int(rest.removeprefix(" of length >= "))
        return "must not be empty" if least == 1 else f"must have at least {least} characters"
    if rest.startswith(" of length <= "):
        return f"must have at most {rest.removeprefix(' of length <= ')} characters"
    if rest.startswith(" matching regex "):
        return f"must match the pattern {rest.removeprefix(' matching regex ')}"
    return "must be" + rest  # " >= 10", " <= 65535", " > 0.0"
