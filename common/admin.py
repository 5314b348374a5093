"""Admin pieces every app's ModelAdmins share: read-only audit admins, and changelists that
answer forged or impossible input instead of failing with a 500.

Read-only: audit rows are written by the app only, so their admins allow no add, change
or delete (`ReadOnlyAdminMixin`).

Actions: Django's `ModelAdmin.response_action` filters `pk__in` with the posted
`_selected_action` values as they are: "abc", a NUL byte or an id beyond the database's
integer range raised ValueError/OverflowError, a 500. The changelist only ever posts ids
it listed, so any other value is a stale or forged form: say so and show the list again.

Exports: `AuditExportMixin` adds CSV and JSON Lines downloads of a log changelist, as
filtered and searched (`common.audit_export`).

Lookups: Django turns a filter it cannot build into its invalid-lookup redirect (`?e=1`),
but PostgreSQL refuses some values only when the query runs: a NUL byte in any text
parameter, an address an `inet` column cannot hold. Those become the same redirect.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR, SEARCH_VAR, ChangeList
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import EmptyResultSet, PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header

from common.audit_export import (
    AuditExport,
    ExportFormat,
    export_chunks,
    export_filename,
    requested_time_range,
)

# The filters recorded with an export in the admin's history, at most this long.
EXPORT_FILTERS_MAX_LENGTH = 1000


def selected_ids_valid(model, values: list[str]) -> bool:
    """True if every value is a primary key the database could hold."""
    pk_field = model._meta.pk
    try:
        for value in values:
            pk_field.run_validators(pk_field.to_python(value))
    except (ValidationError, ValueError, OverflowError):
        return False
    return True


class SafeSelectedActionsMixin:
    """For a ModelAdmin: an action on ids that cannot exist is refused with a message."""

    def response_action(self, request: HttpRequest, queryset, **kwargs) -> HttpResponse | None:
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if not selected_ids_valid(self.model, selected):
            self.message_user(
                request,
                "The selection was not understood (the page may be out of date). "
                "Select the items again and retry.",
                messages.WARNING,
            )
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset, **kwargs)


class SafeLookupsChangeList(ChangeList):
    """A changelist whose filter values the database would refuse are an invalid lookup
    (Django's `?e=1` redirect), checked before any query runs."""

    def get_filters(self, request: HttpRequest, *args, **kwargs):
        # Checked before the list filters run, as some of them query with their value.
        # (The search box has its own check: Django's search form refuses a NUL byte.)
        for values in self.get_filters_params().values():
            if any("\x00" in value for value in values):
                raise IncorrectLookupParameters("A filter value contains a NUL byte.")
        return super().get_filters(request, *args, **kwargs)

    def get_queryset(self, request: HttpRequest, exclude_parameters=None) -> QuerySet:
        queryset = super().get_queryset(request, exclude_parameters)
        # Values are adapted to their column when the SQL is compiled, after Django's own
        # lookup check: compile now, while a refused value can still be an invalid lookup.
        try:
            queryset.query.get_compiler(queryset.db).as_sql()
        except EmptyResultSet:
            pass
        except (ValueError, ValidationError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error
        return queryset


class SafeLookupsMixin:
    """For a ModelAdmin: filter values the database refuses are an invalid lookup, not a 500."""

    def get_changelist(self, request: HttpRequest, **kwargs) -> type[ChangeList]:
        return SafeLookupsChangeList


class ReadOnlyAdminMixin:
    """For a ModelAdmin of audit rows, written by the app only: no add, change or delete."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class AuditExportMixin:
    """For a log's ModelAdmin (`audit_export` says what to write): CSV and JSON Lines
    downloads of its changelist as filtered and searched, at `export/csv/` and
    `export/jsonl/` (URL name `admin:<app>_<model>_export`), streamed. Each export is
    recorded in the admin's history (LogEntry) with its filters."""

    audit_export: AuditExport

    def get_urls(self):
        view = self.admin_site.admin_view(self.export_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_export"
        return [path("export/<str:format_name>/", view, name=name), *super().get_urls()]

    def export_view(self, request: HttpRequest, format_name: str) -> HttpResponse:
        """The changelist's rows (its filters and search; no page) up to now, oldest first."""
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        try:
            export_format = ExportFormat(format_name)
        except ValueError:
            raise Http404("No such export format.") from None
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        now = timezone.now()
        # The changelist reads its filters from request.GET; a page number is no filter.
        request.GET = request.GET.copy()
        request.GET.pop(PAGE_VAR, None)
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(f"{changelist_url}?{ERROR_FLAG}=1")
        search = request.GET.get(SEARCH_VAR, "")
        if search and changelist.query != search:
            # The changelist ignores a search it refuses (a NUL byte): an export must not.
            self.message_user(
                request, "The search was not understood: nothing was exported.", messages.ERROR
            )
            return HttpResponseRedirect(changelist_url)
        export = self.audit_export
        queryset = changelist.queryset.filter(**{f"{export.time_field}__lte": now})
        since, until = requested_time_range(request.GET, field=export.time_field, now=now)
        filename = export_filename(export, export_format, since=since, until=until)
        LogEntry.objects.create(
            user_id=request.user.pk,
            content_type=ContentType.objects.get_for_model(export.model),
            object_repr=f"Export {filename}"[:200],
            action_flag=CHANGE,
            change_message=(
                f"Exported as {export_format.value}; filters: {request.GET.urlencode() or 'none'}"
            )[:EXPORT_FILTERS_MAX_LENGTH],
        )
        response = StreamingHttpResponse(
            export_chunks(export, queryset, export_format), content_type=export_format.content_type
        )
        response["Content-Disposition"] = content_disposition_header(True, filename)
        return response
