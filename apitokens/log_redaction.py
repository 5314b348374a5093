"""No log line carries a token value: `TokenRedactingFilter` rewrites a record whose message,
traceback or request path (quickbot/logs.py) holds one (`tokens.redact_tokens` shows it as
its identifier, qb_AbCd…wXyZ).

Installed on the handlers of settings.LOGGING (every Django logger, the development server's
request log) and on gunicorn's error and access logs (quickbot/gunicorn_conf.py). Pure
logging: it imports no Django, so gunicorn can load it before Django is set up.
"""

from __future__ import annotations

import logging

from apitokens.tokens import redact_tokens

_TRACEBACK_FORMATTER = logging.Formatter()


class TokenRedactingFilter(logging.Filter):
    """Let every record through, with any token value in its text replaced by its identifier."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def redact_record(record: logging.LogRecord) -> None:
    """Rewrite `record` in place when its message, traceback, stack or path holds a token value."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken record is the handler's to report, not ours
        return
    redacted = redact_tokens(message)
    if redacted is not message:
        # Formatted once here: the arguments may hold the value in any form.
        record.msg, record.args = redacted, ()
    if record.exc_info and not record.exc_text:
        # The formatter uses exc_text when set; a traceback quotes paths and values too.
        record.exc_text = _TRACEBACK_FORMATTER.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact_tokens(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_tokens(record.stack_info)
    path = getattr(record, "path", None)
    if isinstance(path, str):
        record.path = redact_tokens(path)
