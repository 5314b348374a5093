"""The staff "API usage" dashboard, served inside the admin site.

Registered by `TokenActivityAdmin.get_urls` at /admin/apitokens/tokenactivity/dashboard/
(URL name `admin:apitokens_dashboard`) and linked from the admin index. It reads the
hourly rollups (TokenUsageHour) for the last 7 days: a fixed number of queries whose work
grows with tokens per hour, not with requests.
"""

from __future__ import annotations

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
    hourly = selectors.activity_per_hour(hours=24 * DASHBOARD_DAYS, now=now)
    # Every figure counts the same whole UTC hours (the rollups' unit), so the totals,
    # the chart and the top lists add up.
    week_start = selectors.hour_window(hours=24 * DASHBOARD_DAYS, now=now)
    day_start = selectors.hour_window(hours=24, now=now)
    failures_week = selectors.status_counts(since=week_start)
    failures_day = selectors.status_counts(since=day_start)
    # Unknown tokens are 401s too; they have no activity row (no token to tie them to).
    unknown_day, unknown_week = selectors.unknown_token_counts(since=(day_start, week_start))
    context = {
        **admin.site.each_context(request),
        "title": "API usage",
        "opts": TokenActivity._meta,
        "now": now,
        "week_start": week_start,
        "days": DASHBOARD_DAYS,
        "chart": hourly_chart(hourly),
        "chart_label": f"API requests per hour over the last {DASHBOARD_DAYS} days",
        "requests_week": sum(requests for _hour, requests in hourly),
        "requests_day": sum(requests for _hour, requests in hourly[-24:]),
        "unauthorized_day": failures_day[401] + unknown_day,
        "unauthorized_week": failures_week[401] + unknown_week,
        "forbidden_day": failures_day[403],
        "forbidden_week": failures_week[403],
        "rate_limited_day": failures_day[429],
        "rate_limited_week": failures_week[429],
        "top_accounts": selectors.top_accounts(since=week_start, limit=TOP_LIMIT),
        "top_tokens": selectors.top_tokens(since=week_start, limit=TOP_LIMIT),
        "suspicious": selectors.suspicious_events(now=now),
    }
    return TemplateResponse(request, "admin/apitokens/dashboard.html", context)
