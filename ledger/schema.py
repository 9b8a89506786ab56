"""Small declarative validators for the ``data`` of each statement kind.

Each kind's schema is a :class:`Obj` of named fields; unknown fields are
rejected so that a statement cannot smuggle in data no reader checks. The
schemas double as documentation (:func:`describe`), which keeps the format
spec and the code from drifting apart.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.encoding import b64decode, hex_decode
from ledger.errors import InvalidData, InvalidInput
from ledger.ids import check_subject
from ledger.times import parse_timestamp


class Validator(ABC):
    description = "value"

    @abstractmethod
    def __call__(self, value: Any, path: str) -> None:
        """Raise :class:`InvalidData` naming ``path`` if ``value`` does not fit."""

    def describe(self) -> str:
        return self.description


@dataclass(frozen=True)
class Text(Validator):
    max_length: int = 200
    min_length: int = 1
    pattern: str | None = None

    @property
    def description(self) -> str:  # type: ignore[override]
        if self.pattern:
            return f"string matching `{self.pattern}`"
        return f"string ({self.min_length}–{self.max_length} chars)"

    def __call__(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            raise InvalidData(f"{path}: expected a string")
        if not self.min_length <= len(value) <= self.max_length:
            raise InvalidData(f"{path}: length must be {self.min_length}–{self.max_length}")
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            raise InvalidData(f"{path}: {value!r} does not match {self.pattern}")


@dataclass(frozen=True)
class OneOf(Validator):
    values: tuple[str, ...]

    @property
    def description(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(f"`{v}`" for v in self.values)

    def __call__(self, value: Any, path: str) -> None:
        if value not in self.values:
            raise InvalidData(f"{path}: {value!r} is not one of {', '.join(self.values)}")


@dataclass(frozen=True)
class Integer(Validator):
    minimum: int = 0
    maximum: int = 2**53 - 1

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"integer {self.minimum}–{self.maximum}"

    def __call__(self, value: Any, path: str) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidData(f"{path}: expected an integer")
        if not self.minimum <= value <= self.maximum:
            raise InvalidData(f"{path}: must be between {self.minimum} and {self.maximum}")


@dataclass(frozen=True)
class Boolean(Validator):
    description = "boolean"

    def __call__(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            raise InvalidData(f"{path}: expected true or false")


@dataclass(frozen=True)
class Subject(Validator):
    subject_type: str

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"`{self.subject_type}:` subject"

    def __call__(self, value: Any, path: str) -> None:
        try:
            check_subject(value, self.subject_type, path)
        except InvalidInput as exc:
            raise InvalidData(str(exc)) from None


@dataclass(frozen=True)
class Timestamp(Validator):
    description = "RFC 3339 UTC timestamp"

    def __call__(self, value: Any, path: str) -> None:
        try:
            parse_timestamp(value, path)
        except InvalidInput as exc:
            raise InvalidData(str(exc)) from None


@dataclass(frozen=True)
class Date(Validator):
    description = "date `YYYY-MM-DD`"

    def __call__(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value) is None:
            raise InvalidData(f"{path}: expected a date YYYY-MM-DD")
        try:
            parse_timestamp(value + "T00:00:00Z", path)
        except InvalidInput:
            raise InvalidData(f"{path}: {value!r} is not a real date") from None


@dataclass(frozen=True)
class Hex(Validator):
    length: int

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"{self.length * 2} lowercase hex digits"

    def __call__(self, value: Any, path: str) -> None:
        try:
            hex_decode(value, path, self.length)
        except InvalidInput as exc:
            raise InvalidData(str(exc)) from None


@dataclass(frozen=True)
class Base64(Validator):
    max_bytes: int = 4096
    description = "standard base64"

    def __call__(self, value: Any, path: str) -> None:
        try:
            data = b64decode(value, path)
        except InvalidInput as exc:
            raise InvalidData(str(exc)) from None
        if len(data) > self.max_bytes:
            raise InvalidData(f"{path}: at most {self.max_bytes} bytes")


@dataclass(frozen=True)
class ListOf(Validator):
    item: Validator
    min_items: int = 0
    max_items: int = 64
    unique: bool = True

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"list ({self.min_items}–{self.max_items}) of {self.item.describe()}"

    def __call__(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise InvalidData(f"{path}: expected a list")
        if not self.min_items <= len(value) <= self.max_items:
            raise InvalidData(f"{path}: needs {self.min_items}–{self.max_items} items")
        for position, item in enumerate(value):
            self.item(item, f"{path}[{position}]")
        if self.unique:
            seen = [repr(item) for item in value]
            if len(set(seen)) != len(seen):
                raise InvalidData(f"{path}: items must be unique")


@dataclass(frozen=True)
class Obj(Validator):
    required: Mapping[str, Validator] = field(default_factory=dict)
    optional: Mapping[str, Validator] = field(default_factory=dict)
    check: Callable[[Mapping[str, Any], str], None] | None = None
    description = "object"

    def __call__(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise InvalidData(f"{path}: expected an object")
        missing = [name for name in self.required if name not in value]
        if missing:
            raise InvalidData(f"{path}: missing {', '.join(missing)}")
        unknown = sorted(set(value) - set(self.required) - set(self.optional))
        if unknown:
            raise InvalidData(f"{path}: unknown fields {', '.join(unknown)}")
        for name, validator in (*self.required.items(), *self.optional.items()):
            if name in value:
                validator(value[name], f"{path}.{name}")
        if self.check is not None:
            self.check(value, path)

    def fields(self) -> Sequence[tuple[str, bool, Validator]]:
        return [(n, True, v) for n, v in self.required.items()] + [
            (n, False, v) for n, v in self.optional.items()
        ]


def describe(schema: Obj) -> list[tuple[str, str, str]]:
    """(field, required|optional, description) rows for the format spec."""
    return [(name, "required" if req else "optional", v.describe()) for name, req, v in schema.fields()]
