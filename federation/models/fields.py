"""A jsonb field for FHIR content that keeps decimals exact both ways."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.types.json import Jsonb

from core import fhir_json


class FhirContentField(models.JSONField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("decoder", fhir_json.FhirJsonDecoder)
        super().__init__(*args, **kwargs)

    def get_db_prep_value(self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        return Jsonb(value, dumps=fhir_json.dumps)


class DateMultirangeField(models.Field):  # type: ignore[type-arg]
    """A tstzmultirange, written as PostgreSQL's text form ("{[a,b],(,c]}"): the write paths COPY text anyway,
    and nothing in Python reads it back (the consent filter compares it in SQL)."""

    description = "timestamptz multirange"

    def db_type(self, connection: BaseDatabaseWrapper) -> str:
        return "tstzmultirange"

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        return None if value is None else str(value)
