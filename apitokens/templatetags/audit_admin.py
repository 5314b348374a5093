"""Admin template tags for the activity changelist."""

from __future__ import annotations

import datetime

from django import template
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.contrib.admin.views.main import ChangeList
from django.utils import formats, timezone
from django.utils.text import capfirst

register = template.Library()


def _month_range(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    months = []
    current = first.replace(day=1)
    while current <= last:
        months.append(current)
        current = (current + datetime.timedelta(days=32)).replace(day=1)
    return months


def cheap_date_hierarchy(cl: ChangeList) -> dict:
    """Like the admin's `date_hierarchy`, without SELECT DISTINCT over every row.

    Django's tag lists the years/months/days that have rows with a DISTINCT over the
    whole filtered table (seconds at a million rows). Here the choices are every
    period between the oldest and newest row (two indexed ORDER BY … LIMIT 1 queries),
    so a day with no requests may be listed and show an empty page.
    """
    field_name = cl.date_hierarchy
    year_field, month_field, day_field = (
        f"{field_name}__{part}" for part in ("year", "month", "day")
    )
    params = {key: cl.params.get(key) for key in (year_field, month_field, day_field)}

    def link(filters: dict) -> str:
        return cl.get_query_string(filters, [f"{field_name}__"])

    def as_int(value) -> int | None:
        value = value[-1] if isinstance(value, list) else value
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    year, month, day = (as_int(params[key]) for key in (year_field, month_field, day_field))
    verbose_name = cl.model._meta.get_field(field_name).verbose_name
    if year and month and day:
        try:
            selected = datetime.date(year, month, day)
        except ValueError:
            selected = None
        if selected is not None:
            return {
                "show": True,
                "back": {
                    "link": link({year_field: year, month_field: month}),
                    "title": capfirst(formats.date_format(selected, "YEAR_MONTH_FORMAT")),
                },
                "choices": [{"title": capfirst(formats.date_format(selected, "MONTH_DAY_FORMAT"))}],
                "field_name": verbose_name,
            }
    if cl.result_count == 0:
        # Nothing matches: the oldest/newest queries would walk the whole time index.
        return {"show": False}
    ordered = cl.queryset.order_by(field_name).values_list(field_name, flat=True)
    oldest = ordered.first()
    newest = cl.queryset.order_by(f"-{field_name}").values_list(field_name, flat=True).first()
    if oldest is None or newest is None:
        return {"show": False}
    first, last = timezone.localdate(oldest), timezone.localdate(newest)
    if not year and first.year == last.year:
        year = first.year
        if first.month == last.month:
            month = first.month
    if year and month:
        try:
            month_start = datetime.date(year, month, 1)
        except ValueError:
            return {"show": False}
        next_month = (month_start + datetime.timedelta(days=32)).replace(day=1)
        start = max(first, month_start)
        end = min(last, next_month - datetime.timedelta(days=1))
        days = [start + datetime.timedelta(days=n) for n in range((end - start).days + 1)]
        return {
            "show": True,
            "back": {"link": link({year_field: year}), "title": str(year)},
            "choices": [
                {
                    "link": link({year_field: year, month_field: month, day_field: d.day}),
                    "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT")),
                }
                for d in days
            ],
            "field_name": verbose_name,
        }
    if year:
        start = max(first, datetime.date(year, 1, 1))
        end = min(last, datetime.date(year, 12, 31))
        return {
            "show": True,
            "back": {"link": link({}), "title": "All dates"},
            "choices": [
                {
                    "link": link({year_field: year, month_field: m.month}),
                    "title": capfirst(formats.date_format(m, "YEAR_MONTH_FORMAT")),
                }
                for m in _month_range(start, end)
            ],
            "field_name": verbose_name,
        }
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link({year_field: str(y)}), "title": str(y)}
            for y in range(first.year, last.year + 1)
        ],
        "field_name": verbose_name,
    }


@register.tag(name="cheap_date_hierarchy")
def cheap_date_hierarchy_tag(parser, token):
    return InclusionAdminNode(
        "date_hierarchy",
        parser,
        token,
        func=cheap_date_hierarchy,
        template_name="date_hierarchy.html",
        takes_context=False,
    )
