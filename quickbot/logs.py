"""The log lines' request context and their two formats (settings.LOGGING, LOG_FORMAT).

`RequestContextFilter` gives every record the request ID, method, path and user of the
request being handled (None outside a request); `TokenRedactingFilter`, after it, removes
token values from the message, the traceback and the path. `PlainFormatter` writes the
plain lines (the request ID at the end of a request's lines); `JsonFormatter` one JSON
object per line with a fixed set of fields, through python-json-logger.

Imported while logging is configured, before the apps are loaded: no models at import.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

from apitokens.tokens import redact_tokens
from common.request_id import request_current

# The request's facts every record carries (None when there is no request or no such fact).
CONTEXT_FIELDS = ("request_id", "user_id", "method", "path", "status", "duration_ms")
# A JSON line's fields, in order; "exc_info" is added when the record has a traceback.
JSON_FIELDS = ("time", "level", "logger", "message", *CONTEXT_FIELDS)


class RequestContextFilter(logging.Filter):
    """Let every record through, with the request being handled written on it: its ID,
    method, path and signed-in user (set by the access line itself where it passes them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        facts = record.__dict__
        if "request_id" not in facts:
            request = request_current()
            if request is not None:
                # Imported here: this module loads before the apps (see the docstring).
                from apitokens.api.internals import loaded_user_id

                facts["request_id"] = request.request_id
                facts.setdefault("method", request.method)
                facts.setdefault("path", request.path)
                facts.setdefault("user_id", loaded_user_id(request))
        for name in CONTEXT_FIELDS:
            facts.setdefault(name, None)
        return True


class PlainFormatter(logging.Formatter):
    """The plain format as it always was, and `request_id=…` at the end of a request's
    lines, so the ID a customer quotes finds them with grep."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} request_id={request_id}" if request_id else line


class JsonFormatter(_LibraryJsonFormatter):
    """One JSON object per line: JSON_FIELDS (time in ISO 8601 UTC) and, for an error, its
    traceback in "exc_info". Nothing else a record carries is written (Django's
    `django.request` records carry the request object, whose text quotes the URL)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        facts = record.__dict__
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        for name in CONTEXT_FIELDS:
            log_data[name] = facts.get(name)
        if log_data["status"] is None:
            # Django's request loggers give the status as `status_code`.
            log_data["status"] = facts.get("status_code")
        for name in ("exc_info", "stack_info"):
            if message_dict.get(name):
                log_data[name] = message_dict[name]

    def formatException(self, ei) -> str:  # noqa: N802 - logging.Formatter's name
        # The library formats the exception anew from exc_info, not the filter's redacted text.
        return redact_tokens(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging.Formatter's name
        return redact_tokens(super().formatStack(stack_info))
