"""`parse_json_body(request)`: the one way an API view reads a JSON body.

Bounded before `json.loads` runs: the size from Content-Length and then the bytes read, the
nesting depth by a scan that never recurses (the standard library's decoder recurses once per
level: a body of 50,000 `[` was a RecursionError, a 500). Strict where the standard library is
lenient: no NaN or Infinity, no key twice in one object (parsers disagree on which copy
wins). Every refusal is `InvalidJsonBody`, whose message is safe to show: the views answer it
with the API's 400 `invalid_request`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpRequest

# Every JSON body the API takes (a rotation, a leak report of 1,000 tokens: about 46 KB)
# fits in these with room to spare.
MAX_BYTES = 256 * 1024
MAX_DEPTH = 32

# A string (to its closing quote, or to the end when unterminated, so the scan stays linear)
# or one bracket; nothing else in the body matters to the depth.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]++|\\.)*+"?|[\[{]|[\]}]', re.DOTALL)


class InvalidJsonBody(ValueError):
    """The body is not JSON this API reads; `str(error)` says why in words a client can act on
    and never repeats the body."""


def parse_json_body(
    request: HttpRequest, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH
) -> Any:
    """The request's JSON body as Python values; raises `InvalidJsonBody` for anything else."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        # Refused before reading: the body never reaches memory.
        raise _too_large(max_bytes)
    return parse_json_bytes(request.body, max_bytes=max_bytes, max_depth=max_depth)


def parse_json_bytes(data: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """`data` decoded as strict JSON within the limits; raises `InvalidJsonBody` otherwise."""
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    try:
        # RFC 8259: JSON between systems is UTF-8 (json.loads would also guess UTF-16 or 32).
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJsonBody("The body is not valid JSON: it is not UTF-8 text.") from None
    if _nesting_depth_exceeds(text, max_depth):
        raise InvalidJsonBody(
            f"The body is not valid JSON for this API: arrays and objects nest more than "
            f"{max_depth} levels deep."
        )
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except InvalidJsonBody:
        raise
    except (ValueError, RecursionError) as error:
        raise InvalidJsonBody("The body is not valid JSON.") from error


def _too_large(max_bytes: int) -> InvalidJsonBody:
    return InvalidJsonBody(f"The body is larger than {max_bytes // 1024} KB.")


def _nesting_depth_exceeds(text: str, max_depth: int) -> bool:
    """True when arrays and objects outside strings nest deeper than `max_depth`."""
    if text.count("[") + text.count("{") <= max_depth:
        return False  # the usual body: too few brackets to be too deep, no scan needed
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        first = match.group()[0]
        if first == '"':  # a string: brackets inside it do not count
            continue
        if first in "[{":
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise InvalidJsonBody(f"The body is not valid JSON: {name} is not a JSON value.")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise InvalidJsonBody("The body is not valid JSON for this API: a field appears twice.")
    return result
