"""Looking inside settings struct types: field types, optional arms, nested tables, descriptions.

Field types are read from :func:`msgspec.structs.fields` (resolved annotations,
``Annotated`` kept), so a key path such as ``("mqtt", "tls", "keyfile")`` can be
followed from the top-level struct down to the type that validates it.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import msgspec

Key = tuple[str, ...]
"""A key path: ``("mqtt", "port")`` is ``mqtt.port``."""


def field_types(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """Field name -> its annotated type."""
    return {info.name: info.type for info in msgspec.structs.fields(struct)}


def arms(kind: Any) -> tuple[Any, ...]:
    """The alternatives of a (possibly ``Annotated``, possibly optional) type; () for None."""
    if typing.get_origin(kind) is typing.Annotated:
        return arms(typing.get_args(kind)[0])
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return tuple(arm for part in typing.get_args(kind) for arm in arms(part))
    return (kind,) if kind is not None else ()


def struct_arm(kind: Any) -> type[msgspec.Struct] | None:
    """The struct (a nested table) among the alternatives of ``kind``, if any."""
    return next((arm for arm in arms(kind) if _is_struct(arm)), None)


def type_at(kind: Any, key: Key) -> Any:
    """The type of the value at ``key`` inside ``kind`` (None where there is no such field)."""
    for name in key:
        struct = struct_arm(kind)
        kind = field_types(struct).get(name) if struct is not None else None
    return kind


def literal_values(kind: Any) -> list[Any]:
    """The values a ``Literal`` type allows, one per spelling (``"5"`` and ``5`` count once)."""
    allowed: dict[str, Any] = {}
    for arm in arms(kind):
        for value in typing.get_args(arm) if typing.get_origin(arm) is typing.Literal else ():
            allowed.setdefault(str(value), value)
    return list(allowed.values())


def field_descriptions(struct: type[msgspec.Struct]) -> dict[str, str | None]:
    """Field name -> its ``Meta(description=...)`` (None where a field has none)."""
    hints = typing.get_type_hints(struct, include_extras=True)
    return {info.name: _description(hints[info.name]) for info in msgspec.structs.fields(struct)}


def _is_struct(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def _description(kind: Any) -> str | None:
    if typing.get_origin(kind) is typing.Annotated:
        for meta in typing.get_args(kind)[1:]:
            if isinstance(meta, msgspec.Meta) and meta.description:
                return meta.description
    for inner in typing.get_args(kind):
        found = _description(inner)
        if found:
            return found
    return None
