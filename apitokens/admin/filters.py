"""The audit admin's list filters, all built on one base: a filter offers (value, label)
options, accepts only those values and narrows the queryset for one of them. None of
them runs SELECT DISTINCT over a big table, and odd values are ignored, never an error."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from apitokens import selectors, stale
from apitokens.models import APIToken


class NarrowingFilter(admin.SimpleListFilter):
    """A list filter with fixed `options`; `narrow` runs only for a value it `accepts`."""

    options: tuple[tuple[str, str], ...] = ()

    def lookups(self, request: HttpRequest, model_admin) -> tuple[tuple[str, str], ...]:
        return self.options

    def accepts(self, value: str) -> bool:
        return value in dict(self.options)

    def narrow(self, queryset: QuerySet, value: str) -> QuerySet:
        raise NotImplementedError

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value is None or not self.accepts(value):
            return queryset
        return self.narrow(queryset, value)


# --- Tokens ------------------------------------------------------------------------------


class TokenStatusFilter(NarrowingFilter):
    title = "status"
    parameter_name = "status"
    options = (("active", "Active"), ("expired", "Expired"), ("deleted", "Deleted"))

    def narrow(self, queryset: QuerySet, value: str) -> QuerySet:
        now = timezone.now()
        match value:
            case "active":
                return queryset.usable(now)
            case "expired":
                return queryset.active().filter(expires_at__lte=now)
        return queryset.revoked()


class PausedFilter(NarrowingFilter):
    title = "paused"
    parameter_name = "paused"
    options = (("yes", "Paused"), ("no", "Not paused"))

    def narrow(self, queryset: QuerySet, value: str) -> QuerySet:
        return queryset.filter(paused_at__isnull=value != "yes")


class OwnerIsStaffFilter(admin.BooleanFieldListFilter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.title = "owner is staff"


class LastUsedFilter(NarrowingFilter):
    title = "last used"
    parameter_name = "last_used"
    options = (("never", "Never"), ("30", "Over 30 days ago"), ("90", "Over 90 days ago"))

    def narrow(self, queryset: QuerySet, value: str) -> QuerySet:
        if value == "never":
            return queryset.filter(last_used_at__isnull=True)
        return queryset.filter(last_used_at__lt=timezone.now() - timedelta(days=int(value)))


class StaleFilter(NarrowingFilter):
    """Tokens nobody uses, by the owner page's rule (`apitokens.stale`)."""

    title = "stale"
    parameter_name = "stale"
    options = (("yes", "Stale (unused or never used)"),)

    def narrow(self, queryset: QuerySet, value: str) -> QuerySet:
        now = timezone.now()
        return (queryset & APIToken.objects.usable(now)).filter(stale.stale_condition(now))


class PolicyBreachFilter(NarrowingFilter):
    """Usable tokens that break the staff token policy (`apitokens.policy.breach_condition`)."""

    title = "token policy"
    parameter_name = "policy"
    options = (("breaks", "Breaks the policy"),)

    def narrow(self, queryset: QuerySet, value: str) -> QuerySet:
        return queryset & selectors.tokens_breaking_policy()


# --- Activity and the security log -------------------------------------------------------


class StatusClassFilter(NarrowingFilter):
    title = "status"
    parameter_name = "status_class"
    options = tuple((key, label) for key, (label, _query) in selectors.STATUS_CLASSES.items())

    # Classes that are a large share of all requests. Filtering them with the status index
    # would read every matching row to sort by time (seconds at a million rows); filtering
    # on status / 100, which no index serves, makes the database walk the time index
    # newest first and stop after one page.
    common_classes = ("2xx", "4xx")

    def narrow(self, queryset: QuerySet, value: str) -> QuerySet:
        if value in self.common_classes:
            hundreds = int(value[0])
            return queryset.alias(status_hundreds=F("status") / 100).filter(
                status_hundreds=hundreds
            )
        return queryset.filter(selectors.STATUS_CLASSES[value][1])


class OutsideAllowlistFilter(NarrowingFilter):
    """Requests served from outside a report-only allowlist: an enforced one would have
    refused them."""

    title = "IP allowlist"
    parameter_name = "outside_allowlist"
    options = (("yes", "Outside allowlist (report only)"),)

    def narrow(self, queryset: QuerySet, value: str) -> QuerySet:
        return queryset.filter(outside_allowlist=True)


class MethodFilter(NarrowingFilter):
    """A fixed list: the default filter would run SELECT DISTINCT over every row."""

    title = "method"
    parameter_name = "method"
    options = tuple(
        (method, method) for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
    )

    def narrow(self, queryset: QuerySet, value: str) -> QuerySet:
        return queryset.filter(method=value)


class TokenPublicIdFilter(NarrowingFilter):
    """Narrow to one token, chosen by a link (`?token=<public id>`), never a 10,000-row list."""

    title = "token"
    parameter_name = "token"

    def lookups(self, request: HttpRequest, model_admin) -> tuple[tuple[str, str], ...]:
        value = self.value()
        if not value:
            return ()
        token = APIToken.objects.filter(public_id=value).only("name", "identifier").first()
        return ((value, str(token) if token else value),)

    def accepts(self, value: str) -> bool:
        return bool(value)

    def narrow(self, queryset: QuerySet, value: str) -> QuerySet:
        return queryset.filter(token__public_id=value)


class OwnerFilter(NarrowingFilter):
    """Narrow to one account, chosen by a link (`?owner=<user id>`)."""

    title = "owner"
    parameter_name = "owner"

    @staticmethod
    def owner_id(value: str | None) -> int | None:
        value = value or ""
        # Anything but a plain 64-bit id is ignored (never a database error).
        if value.isascii() and value.isdigit() and int(value) < 2**63:
            return int(value)
        return None

    def lookups(self, request: HttpRequest, model_admin) -> tuple[tuple[str, str], ...]:
        owner_id = self.owner_id(self.value())
        if owner_id is None:
            return ()
        owner = model_admin.model._meta.get_field("owner").related_model
        user = owner.objects.filter(pk=owner_id).only("email").first()
        return ((str(owner_id), user.email if user else str(owner_id)),)

    def accepts(self, value: str) -> bool:
        return self.owner_id(value) is not None

    def narrow(self, queryset: QuerySet, value: str) -> QuerySet:
        return queryset.filter(owner_id=self.owner_id(value))
