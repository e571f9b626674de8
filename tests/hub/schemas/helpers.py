"""Helpers for the schema tests: edit a payload at a field path, validate, read the message.

Paths are written as the hub's error messages write them: `evses[0].connectors[1].max_voltage`.
"""

import copy
import re
from collections.abc import Iterator
from typing import Any

from rest_framework import serializers

from hub.ocpi.exceptions import validation_message

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """`a.b[2].c` → ["a", "b", 2, "c"]."""
    keys: list[str | int] = []
    for name, index in _TOKEN.findall(path):
        keys.append(int(index) if index else name)
    return keys


def _parent(data: Any, path: str) -> tuple[Any, str | int]:
    keys = parse_path(path)
    node = data
    for key in keys[:-1]:
        node = node[key]
    return node, keys[-1]


def with_value(data: Any, path: str, value: Any) -> Any:
    """A deep copy of `data` with the field at `path` set to `value`."""
    data = copy.deepcopy(data)
    node, key = _parent(data, path)
    node[key] = value
    return data


def without(data: Any, path: str) -> Any:
    """A deep copy of `data` without the field at `path`."""
    data = copy.deepcopy(data)
    node, key = _parent(data, path)
    del node[key]
    return data


def object_paths(data: Any, prefix: str = "") -> Iterator[str]:
    """The path of every JSON object in `data` ("" for the root)."""
    if isinstance(data, dict):
        yield prefix
        for key, value in data.items():
            yield from object_paths(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from object_paths(value, f"{prefix}[{index}]")


def message_for(serializer_class: type[serializers.Serializer], data: Any) -> str:  # type: ignore[type-arg]
    """The hub's 2001 message for `data`, or "" when it is valid."""
    serializer = serializer_class(data=data)
    return "" if serializer.is_valid() else validation_message(serializer.errors)


def assert_valid(
    serializer_class: type[serializers.Serializer],  # type: ignore[type-arg]
    data: Any,
) -> Any:
    """The serializer, after `data` passed validation."""
    serializer = serializer_class(data=data)
    assert serializer.is_valid(), validation_message(serializer.errors)
    return serializer


def assert_invalid(
    serializer_class: type[serializers.Serializer],  # type: ignore[type-arg]
    data: Any,
    path: str,
    fragment: str = "",
) -> str:
    """`data` is refused with a message naming `path` (and containing `fragment`)."""
    message = message_for(serializer_class, data)
    assert message, f"expected an error on {path or 'the object'}, but the data is valid"
    expected = f"{path}: " if path else ""
    matching = [part for part in message.split("; ") if part.startswith(expected)]
    assert matching, f"no error names {path!r}: {message}"
    assert any(fragment in part for part in matching), (
        f"no error on {path!r} says {fragment!r}: {message}"
    )
    return message
