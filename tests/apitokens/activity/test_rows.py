from __future__ import annotations

from apitokens.activity.rows import ACTIVITY_COLUMNS
from apitokens.models import TokenActivity


def test_activity_columns_are_the_models_fields_but_the_id():
    fields = tuple(field.attname for field in TokenActivity._meta.concrete_fields)
    assert tuple(name for name in fields if name != "id") == ACTIVITY_COLUMNS
