"""The staff "API usage" dashboard, served inside the admin site.

Routed by `TokenActivityAdmin.get_urls` at /admin/apitokens/tokenactivity/dashboard/
(URL name `admin:apitokens_dashboard`) and linked from the admin index. Its figures come
from `selectors.dashboard_counts` (the hourly rollups of the last 7 days: a fixed number
of queries whose work grows with tokens per hour, not with requests) and
`selectors.suspicious_events`.
"""

from __future__ import annotations

from dataclasses import fields

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from apitokens import charts, selectors
from apitokens.models import TokenActivity

DASHBOARD_DAYS = 7
TOP_LIMIT = 10


def hourly_chart(hourly: list, *, width: int = 960, height: int = 220) -> charts.LineChart:
    """Requests per hour as a line chart, one x label per day (at midnight)."""
    points = []
    for hour, requests in hourly:
        local = timezone.localtime(hour)
        points.append(
            charts.ChartPoint(
                label=f"{local:%a %d}" if local.hour == 0 else "",
                value=requests,
                title=f"{local:%a %d %b %H:%M}: {requests} requests",
            )
        )
    return charts.line_chart(points, width=width, height=height)


@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    """Requests per hour, top accounts and tokens, 401/403/429 counts, suspicious events."""
    if not request.user.has_perm("apitokens.view_tokenactivity"):
        raise PermissionDenied
    now = timezone.now()
    counts = selectors.dashboard_counts(days=DASHBOARD_DAYS, top_limit=TOP_LIMIT, now=now)
    context = {
        **admin.site.each_context(request),
        **{field.name: getattr(counts, field.name) for field in fields(counts)},
        "title": "API usage",
        "opts": TokenActivity._meta,
        "now": now,
        "days": DASHBOARD_DAYS,
        "chart": hourly_chart(counts.hourly),
        "chart_label": f"API requests per hour over the last {DASHBOARD_DAYS} days",
        "suspicious": selectors.suspicious_events(now=now),
    }
    return TemplateResponse(request, "admin/apitokens/dashboard.html", context)
