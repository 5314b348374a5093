"""A token's own page (details, requests per day, recent activity, security log) and the
show-once modal's wait for the token's first request."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from apitokens import charts, selectors
from apitokens.selectors.suggestions import token_suggestions
from apitokens.views.base import LIST_TEMPLATE, HtmxHttpRequest, login_required_htmx, owned_token
from apitokens.views.listing import last_used_text, previous_value_until, time_ago
from common.request_id import request_id_valid

ACTIVITY_PAGE_SIZE = 25
REQUEST_ID_INVALID = (
    "That is not a request ID: copy the QuickBot-Request-Id header of the response "
    "(req_ and 22 letters, digits, - or _)."
)
CHART_DAYS = 30
# The activity filter "Would have been refused" (`?status=outside`) and the count beside a
# report-only allowlist cover the same days as the chart.
OUTSIDE_FILTER = "outside"
OUTSIDE_LABEL = "Would have been refused"
REPORT_ONLY_DAYS = CHART_DAYS
# audit.css draws the chart's axis labels at 26 chart units on phones (the chart shrinks).
CHART_LABEL_UNITS = 26


def daily_chart(daily: list) -> charts.BarChart:
    """Requests per day as a bar chart, a date label every 7 days ending today."""
    last = len(daily) - 1
    points = []
    for index, (day, requests) in enumerate(daily):
        noun = "request" if requests == 1 else "requests"
        points.append(
            charts.ChartPoint(
                label=f"{day.day} {day:%b}" if (last - index) % 7 == 0 else "",
                value=requests,
                title=f"{day:%a} {day.day} {day:%b}: {requests} {noun}",
            )
        )
    return charts.bar_chart(points, width=640, height=170, label_units=CHART_LABEL_UNITS)


@never_cache
@login_required_htmx
@require_safe
def token_detail(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """One of the user's tokens (deleted ones too): details, during a regenerate's overlap who
    still sends the old value, requests per day for 30 days, recent activity filterable by
    status (or the requests a report-only allowlist would have refused) with new IPs
    highlighted, and its security log."""
    token = get_object_or_404(
        request.user.api_tokens.select_related("revoked_by"), public_id=public_id
    )
    now = timezone.now()
    status_filter = request.GET.get("status", "")
    outside = status_filter == OUTSIDE_FILTER
    status_class = status_filter if status_filter in selectors.STATUS_CLASSES else ""
    if not (outside or status_class):
        status_filter = ""
    report_since = now - timedelta(days=REPORT_ONLY_DAYS)
    # Owner-scoped by the token: another account's request ID finds nothing here.
    request_id = request_id_typed = request.GET.get("request_id", "").strip()
    request_id_problem = ""
    if request_id and not request_id_valid(request_id):
        # Never queried (a NUL is a database error on PostgreSQL); shown back cut short.
        request_id, request_id_problem = "", REQUEST_ID_INVALID
    if request_id_problem:
        activity = selectors.ActivityPage(rows=[], older=None, newer=None)
    else:
        # Keyset pages (time, id): ?older=<cursor> or ?newer=<cursor>; a bad one is the newest.
        activity = selectors.token_activity_page(
            token=token,
            status_class=status_class or None,
            outside_allowlist_since=report_since if outside else None,
            request_id=request_id or None,
            older_than=request.GET.get("older"),
            newer_than=request.GET.get("newer"),
            size=ACTIVITY_PAGE_SIZE,
        )
    new_ips = selectors.token_new_ips(token=token, now=now)
    dead_use = selectors.dead_token_alert(token=token, now=now)
    report_only = token.allowlist_report_only and bool(token.allowed_ips)
    # One count for the badge's line and the filtered list's total, so they agree.
    would_refuse = (
        selectors.token_outside_allowlist_count(token=token, since=report_since)
        if report_only or outside
        else None
    )
    if outside:
        activity_total, recorded_since = would_refuse, report_since
    else:
        activity_total, recorded_since = selectors.token_requests_recorded(
            token=token, status_class=status_class or None
        )
    status_choices = [(key, label) for key, (label, _q) in selectors.STATUS_CLASSES.items()]
    if token.allowed_ips or outside:
        status_choices.append((OUTSIDE_FILTER, OUTSIDE_LABEL))
    context = {
        "token": token,
        "status": token.status(now),
        "now": now,
        "activity": activity,
        # Only the first request from each new address is marked "New IP".
        "new_ip_rows": {
            row.pk for row in activity.rows if row.ip and new_ips.get(row.ip) == row.created_at
        },
        "status_class": status_class,
        "status_filter": status_filter,
        "outside_filter": outside,
        "status_choices": status_choices,
        "report_only": report_only,
        "would_refuse": would_refuse,
        "report_only_days": REPORT_ONLY_DAYS,
        "request_id": request_id,
        "request_id_typed": request_id_typed[:100].replace("\x00", ""),
        "request_id_problem": request_id_problem,
        "new_ips": new_ips,
        "new_ip_list": [(ip, seen, time_ago(seen, now)) for ip, seen in new_ips.items()],
        "last_used": last_used_text(token.last_used_at, now),
        # Uses after it stopped working, as the API Tokens page's alert counts them.
        "dead_use": dead_use,
        "dead_use_latest": time_ago(dead_use.last_seen_at, now) if dead_use else "",
        "previous_until": previous_value_until(token, now) if token.revoked_at is None else None,
        # Why "recorded" can exceed the chart's 30 days: it counts every kept day.
        "activity_total": activity_total,
        "recorded_since": recorded_since,
        "retention_days": settings.QUICKBOT_ACTIVITY_RETENTION_DAYS,
    }
    if request.htmx and request.htmx.target == "token-activity":
        return render(request, "apitokens/token_detail.html#token-activity", context)
    daily = selectors.activity_per_day(token=token, days=CHART_DAYS, now=now)
    if context["previous_until"]:
        # During a regenerate's overlap: who still sends the old value.
        old_value = selectors.previous_value_callers(
            token=token, since=token.regenerated_at or token.created_at
        )
        context["old_value"] = old_value
        context["old_value_callers"] = [
            (caller, time_ago(caller.last_seen_at, now)) for caller in old_value.callers
        ]
    context |= {
        "chart": daily_chart(daily),
        "chart_days": CHART_DAYS,
        "requests_in_chart": sum(requests for _day, requests in daily),
        "chart_first_day": daily[0][0] if daily else None,
        "events": list(token.security_events.select_related("actor")[:50]),
        "suggestions": token_suggestions(token=token, now=now),
    }
    return render(request, "apitokens/token_detail.html", context)


@never_cache
@login_required_htmx
@require_safe
def token_first_request(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """The show-once modal's live line: waiting, or the first request since the value was
    issued (its address and time). Owner-scoped; the modal polls it until it arrives."""
    token = owned_token(request, public_id)
    issued_at = token.regenerated_at or token.created_at
    first_request = None
    if token.last_used_at is not None and token.last_used_at >= issued_at:
        first_request = {"ip": token.last_used_ip, "at": token.last_used_at}
    context = {"token": token, "first_request": first_request}
    return render(request, f"{LIST_TEMPLATE}#first-request", context)
