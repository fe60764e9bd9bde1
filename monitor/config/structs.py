"""Settings structs (msgspec): the base class, and building them from TOML, environment and flags.

Settings are frozen :class:`msgspec.Struct` types with bounds and a description
per field (``Annotated[int, Meta(ge=1, description=...)]``). The constructor
checks only the cross-field rules in ``__post_init__``; values a user typed
(TOML, environment, flags) go through :func:`settings_from`, which checks every
bound and coerces strings the way the environment needs: ``"5"`` -> 5,
``"0.5"`` -> 0.5, ``"yes"``/``"off"`` -> bool, ``"/x"`` -> ``Path``. A problem
is an :class:`InvalidSetting` naming the key and saying what is wrong in plain
words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

import msgspec

from monitor.config.introspect import arms, field_types, struct_arm
from monitor.config.invalid import InvalidSetting, readable

S = TypeVar("S", bound="SettingsStruct")


class SettingsStruct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every settings struct: immutable, keyword-only, unknown keys are errors.

    Cross-field checks go in ``__post_init__`` and raise ``ValueError`` with a
    message for users; one that starts with ``"<field>: "`` is reported
    against that field. To report every failed check, not only the first,
    collect them and call :func:`raise_all`.
    """


def raise_all(found: Iterable[str | None]) -> None:
    """Raise one ``ValueError`` carrying every problem in ``found`` (``None`` = no problem),
    one per line; each becomes its own :class:`InvalidSetting`."""
    messages = [message for message in found if message]
    if messages:
        raise ValueError("\n".join(messages))


BOOL_WORDS: Final[dict[str, bool]] = {
    **dict.fromkeys(("1", "true", "t", "yes", "y", "on"), True),
    **dict.fromkeys(("0", "false", "f", "no", "n", "off"), False),
}
"""Strings accepted for a bool (any case), as systemd environment files write them."""


def settings_from(cls: type[S], tree: Mapping[str, Any]) -> S:
    """Validate ``tree`` (TOML, environment strings, flag values) into ``cls``.

    Raises :class:`InvalidSetting` for the first problem found (its ``all``: every
    problem the same check found, e.g. every failed cross-field check of a table).
    """
    try:
        return _convert(tree, cls)
    except msgspec.ValidationError as exc:
        raise readable(cls, str(exc)) from None


def problems(cls: type[SettingsStruct], tree: Mapping[str, Any]) -> list[InvalidSetting]:
    """Every problem of ``tree`` as ``cls`` (msgspec itself stops at the first).

    Each key is checked alone, tables key by key; a table whose keys are all
    valid is then checked whole (required keys, cross-field checks).
    """
    fields = field_types(cls)
    found: list[InvalidSetting] = []
    for name, value in tree.items():
        if name not in fields:
            found.append(InvalidSetting((name,), "unknown setting", shows_value=False))
            continue
        inner = struct_arm(fields[name])
        if inner is not None and isinstance(value, Mapping):
            found.extend(problem.under(name) for problem in problems(inner, value))
            continue
        try:
            _convert(value, fields[name])
        except msgspec.ValidationError as exc:
            found.append(readable(fields[name], str(exc)).under(name))
    if not found:
        try:
            settings_from(cls, tree)
        except InvalidSetting as problem:
            found.extend(problem.all)
    return found


def to_builtins(settings: SettingsStruct) -> dict[str, Any]:
    """The settings as plain JSON-able values (paths as strings, ``None`` kept)."""
    tree: dict[str, Any] = msgspec.to_builtins(settings, enc_hook=_encode_path)
    return tree


def _convert(value: Any, kind: Any) -> Any:
    return msgspec.convert(_lax(kind, value), kind, strict=False, dec_hook=_decode_path)


def _decode_path(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, (str, Path)):
        return Path(value)
    raise TypeError("must be a path")


def _encode_path(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


def _lax(kind: Any, value: Any) -> Any:
    """``value`` made ready for ``kind``, table by table: strings meant as numbers or bools
    lose surrounding spaces, and ``"yes"``/``"Off"``/... become bools (msgspec itself
    takes only ``true``/``false``/``1``/``0``)."""
    alternatives = arms(kind)
    if isinstance(value, str) and str not in alternatives and Path not in alternatives:
        value = value.strip()
        return BOOL_WORDS.get(value.lower(), value) if bool in alternatives else value
    inner = struct_arm(kind)
    if inner is not None and isinstance(value, Mapping):
        fields = field_types(inner)
        return {name: _lax(fields.get(name), item) for name, item in value.items()}
    return value
