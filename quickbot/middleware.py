"""The first middleware: the request's ID (`QuickBot-Request-Id` on every response) and its
access-log line.

It runs before every other middleware, so even a response another middleware makes (a
redirect to HTTPS, a static file, a refused token in a URL, Django's error pages) carries
the header; the ID itself comes from `common.request_id`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from common.request_id import (
    REQUEST_ID_HEADER,
    request_context_reset,
    request_context_set,
    request_id_from,
)

# One line per request: method, path, status and duration (off below INFO).
access_log = logging.getLogger("quickbot.access")


class RequestIdMiddleware:
    """Give the request its ID (`request.request_id`), keep it as the request being handled
    while the response is made (log lines, API errors), write the ID on the response, and
    log the access line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = request_id_from(request.META, settings.QUICKBOT_TRUSTED_PROXY_COUNT)
        request.request_id = request_id
        context = request_context_set(request)
        try:
            response = self.get_response(request)
            response.headers[REQUEST_ID_HEADER] = request_id
            if access_log.isEnabledFor(logging.INFO):
                duration_ms = int((time.perf_counter() - started) * 1000)
                status = response.status_code
                access_log.info(
                    "%s %s %s %sms",
                    request.method,
                    request.path,
                    status,
                    duration_ms,
                    extra={"status": status, "duration_ms": duration_ms},
                )
            return response
        finally:
            request_context_reset(context)
