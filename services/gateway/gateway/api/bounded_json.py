"""A JSON parser whose work is bounded by what the document may hold, not by its size.

`json.loads` parses a whole document in one C call that holds the GIL: 16 MiB of `[],[],...`
takes about 1.5 s, and no other thread (the event loop included) runs meanwhile, even when the
call is made in a worker thread. Here containers are walked in Python and only scalars (a string,
a number, a literal) go to the C scanner, so

- the parse stops at the first element past a top-level array's limit (`items` past
  MAX_BATCH_ITEMS), and at `max_values` values in all, without reading the rest;
- the interpreter can hand the GIL to another thread between any two values, so the event loop
  waits at most the switch interval (5 ms) or the longest single scalar (a string of the whole
  body: about 10 ms for 16 MiB). What remains is the garbage collector: the allocations trigger
  full collections, which hold the GIL while they visit every object of the process (tens of
  milliseconds for the objects of the imports, unless they were frozen with `gc.freeze()`).

It accepts what `json.loads` accepts (NaN and Infinity included, for the schema to refuse with
its own message), keeps the last of duplicate keys, and reports errors with `json.loads`'s
messages and character positions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

NUL = "\x00"
MAX_DEPTH = 32  # a batch is 3 deep (body, items, a line); json.loads allows about 1,000
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_BLANKS = frozenset(" \t\n\r")
# An object without nested containers and of at most 2,048 characters: a batch line (at most
# about 160). The C scanner takes it in one call, of bounded work, several times faster than
# walking it here. Possessive quantifiers: the regex never backtracks.
_FLAT_OBJECT = re.compile(r'\{[^"{}\[\]]*+(?:"[^"\\]*+(?:\\.[^"\\]*+)*+"[^"{}\[\]]*+)*+\}')
FLAT_OBJECT_CHARS = 2048
_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined]
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]


class Unparseable(Exception):
    """The body cannot be parsed; `message` says why (`cannot be parsed: nested too deeply`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Malformed(Exception):
    """Not JSON: `why` as `json.loads` says it, at `position` (in characters)."""

    def __init__(self, why: str, position: int) -> None:
        super().__init__(f"{why} at character {position}")
        self.why, self.position = why, position


class TooLong(Exception):
    """A top-level array has more elements than its limit (the rest was not read)."""

    def __init__(self, key: str, limit: int) -> None:
        super().__init__(f"{key}: more than {limit} elements")
        self.key, self.limit = key, limit


def loads(raw: bytes, *, array_limits: Mapping[str, int], max_values: int) -> Any:
    """Parse `raw` (UTF-8, or UTF-16/32 as `json.loads` detects them). `array_limits` caps the
    length of arrays that are values of the top-level object, by key; `max_values` the number of
    values in all (a flat object counts as one)."""
    encoding = json.detect_encoding(raw)
    try:
        text = raw.decode(encoding, "surrogatepass")
    except UnicodeDecodeError:
        raise Unparseable(f"cannot be parsed: not valid {encoding.upper()}") from None
    return _Parser(text, array_limits, max_values).document()


def nul_path(document: Any) -> str | None:
    """The path (`items[3].identifier`) of the first string holding a NUL, if any."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:  # iterative: a deeply nested document cannot exhaust the stack
        path, value = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                return path or "body"
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                here = f"{path}.{key}" if path else str(key)
                if NUL in str(key):
                    return here
                stack.append((here, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))
    return None


class _Parser:
    def __init__(self, text: str, array_limits: Mapping[str, int], max_values: int) -> None:
        self.text, self.array_limits = text, array_limits
        self.values_left = max_values
        self.max_values = max_values

    def document(self) -> Any:
        value, end = self.value(self.skip(0), 0, None)
        end = self.skip(end)
        if end != len(self.text):
            raise Malformed("Extra data", end)
        return value

    def skip(self, index: int) -> int:
        if self.text[index : index + 1] not in _BLANKS:  # compact JSON: no regex call
            return index
        match = _WHITESPACE.match(self.text, index)
        return match.end() if match else index

    def value(self, index: int, depth: int, key: str | None) -> tuple[Any, int]:
        """The value at `index` and where it ends; `key`: its key if it is a member of the
        top-level object (its length may be limited)."""
        self.values_left -= 1
        if self.values_left < 0:
            raise Unparseable(f"cannot be parsed: more than {self.max_values} JSON values")
        char = self.text[index : index + 1]
        if char == "{":
            if depth < MAX_DEPTH and _is_flat_object(self.text, index):
                return self.scalar(index)
            return self.object(index, depth + 1)
        if char == "[":
            return self.array(index, depth + 1, key)
        return self.scalar(index)

    def scalar(self, index: int) -> tuple[Any, int]:
        """A string, number or literal (or a flat object) at `index`: one C call."""
        try:
            return _scan(self.text, index)  # type: ignore[no-any-return]
        except StopIteration as stop:
            raise Malformed("Expecting value", stop.value) from None
        except json.JSONDecodeError as exc:  # a bad string: unterminated, a control character
            raise Malformed(exc.msg, exc.pos) from None
        except ValueError as exc:  # an integer of more than 4,300 digits
            raise Unparseable("cannot be parsed: " + str(exc).split(";")[0]) from None

    def object(self, index: int, depth: int) -> tuple[dict[str, Any], int]:
        if depth > MAX_DEPTH:
            raise Unparseable("cannot be parsed: nested too deeply")
        found: dict[str, Any] = {}
        index = self.skip(index + 1)
        done = self.text[index : index + 1] == "}"
        if done:
            index += 1
        while not done:
            key, index = self.key(index)
            found[key], index = self.value(index, depth, key if depth == 1 else None)
            done, index = self.after(index, "}")
        return found, index

    def array(self, index: int, depth: int, key: str | None) -> tuple[list[Any], int]:
        if depth > MAX_DEPTH:
            raise Unparseable("cannot be parsed: nested too deeply")
        limit = self.array_limits.get(key) if key is not None else None
        found: list[Any] = []
        index = self.skip(index + 1)
        done = self.text[index : index + 1] == "]"
        if done:
            index += 1
        while not done:
            if len(found) == limit:  # one element too many: the rest is not read
                raise TooLong(str(key), limit)
            element, index = self.value(index, depth, None)
            found.append(element)
            done, index = self.after(index, "]")
        return found, index

    def key(self, index: int) -> tuple[str, int]:
        """A member's key and where its value starts."""
        if self.text[index : index + 1] != '"':
            raise Malformed("Expecting property name enclosed in double quotes", index)
        try:
            key, index = _scanstring(self.text, index + 1)
        except json.JSONDecodeError as exc:
            raise Malformed(exc.msg, exc.pos) from None
        index = self.skip(index)
        if self.text[index : index + 1] != ":":
            raise Malformed("Expecting ':' delimiter", index)
        return key, self.skip(index + 1)

    def after(self, index: int, closing: str) -> tuple[bool, int]:
        """After a member or an element: whether the container ends, and where the next thing
        starts."""
        index = self.skip(index)
        char = self.text[index : index + 1]
        if char == closing:
            return True, index + 1
        if char != ",":
            raise Malformed("Expecting ',' delimiter", index)
        return False, self.skip(index + 1)


def _is_flat_object(text: str, index: int) -> bool:
    return _FLAT_OBJECT.match(text, index, index + FLAT_OBJECT_CHARS) is not None
