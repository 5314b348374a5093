"""Admin changelist actions that refuse forged selections instead of failing.

Django's `ModelAdmin.response_action` filters `pk__in` with the posted
`_selected_action` values as they are: "abc", a NUL byte or an id beyond the database's
integer range raised ValueError/OverflowError, a 500. The changelist only ever posts ids
it listed, so any other value is a stale or forged form: say so and show the list again.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect


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
