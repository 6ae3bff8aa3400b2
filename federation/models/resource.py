"""Stored FHIR resources: the current version for reads, immutable versions for history."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from federation.contracts import StoredVersion
from federation.models.fields import DateMultirangeField, FhirContentField

PLACEMENT_FIELDS = ("owners", "data_period")  # what the consent filter reads in SQL; Python never needs them


class MetaSource(models.Func):
    """`content #>> '{meta,source}'`, what `_source` searches. The path is written into the SQL, not bound as a
    parameter: a prepared statement's generic plan must still see the expression of the index on it."""

    template = "(%(expressions)s #>> '{meta,source}')"
    output_field = models.TextField()

    def __init__(self) -> None:
        super().__init__(models.F("content"))


class MetaProfiles(models.Func):
    """`content #> '{meta,profile}'` (a JSON array of canonical URLs), what `_profile` searches."""

    template = "(%(expressions)s #> '{meta,profile}')"
    output_field = models.JSONField()

    def __init__(self) -> None:
        super().__init__(models.F("content"))


class ResourceManager(models.Manager["Resource"]):
    """Rows load without their placement columns: the filter compares them in SQL, and parsing a multirange
    for every row read would cost every read."""

    def get_queryset(self) -> models.QuerySet[Resource]:
        return super().get_queryset().defer(*PLACEMENT_FIELDS)


class WriteMethod(models.TextChoices):
    """The interaction that made a version, as history's Bundle.entry.request.method reports it."""

    POST = "POST"
    PUT = "PUT"
    DELETE = "DELETE"


class Resource(models.Model):
    """The current version of one resource (`content` is the JSON served, meta included).

    A deleted resource keeps its row (is_deleted, content null) so reads answer 410 and the
    logical id is never reused by a different resource.
    """

    resource_type = models.CharField(max_length=64)
    logical_id = models.CharField(max_length=64)
    version_id = models.PositiveIntegerField()
    last_updated = models.DateTimeField()
    is_deleted = models.BooleanField(default=False)
    content = FhirContentField(null=True)
    content_hash = models.CharField(max_length=64, blank=True)
    # Where the current content places the row for consent (federation.search.compartments.placement_of):
    owners = ArrayField(models.TextField(), null=True)  # its Patients; NULL outside the compartment
    data_period = DateMultirangeField(null=True)  # the dates of its `date` parameter; NULL when it has none

    objects = ResourceManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["resource_type", "logical_id"], name="resource_type_logical_id_unique")
        ]
        # _source and _profile, which nearly every resource has, are searched on its content through these rather
        # than on index rows (federation.search.meta_parameters).
        indexes = [
            models.Index(MetaSource(), models.F("resource_type"), name="resource_source"),
            GinIndex(MetaProfiles(), name="resource_profile"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.logical_id}/_history/{self.version_id}"

    def as_stored(self, method: str | None = None) -> StoredVersion:
        """The current version as a contract; `method` names the write that made it, when known."""
        return _stored_version(self, method or (WriteMethod.DELETE if self.is_deleted else WriteMethod.PUT))


class ResourceVersion(models.Model):
    """One immutable version; a database trigger refuses UPDATE and DELETE on this table."""

    # No index of its own: resource_version_unique (resource, version_id) serves every lookup by resource. No
    # constraint in the database: a version is only written with its resource's row, in the same transaction, and
    # resource rows are never deleted; checking it locked the resource's row for each version written (a quarter
    # of a version row's cost at ingest).
    resource = models.ForeignKey(
        Resource, on_delete=models.PROTECT, related_name="versions", db_index=False, db_constraint=False
    )
    resource_type = models.CharField(max_length=64)
    logical_id = models.CharField(max_length=64)
    version_id = models.PositiveIntegerField()
    last_updated = models.DateTimeField()
    method = models.CharField(max_length=6, choices=WriteMethod.choices)
    content = FhirContentField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["resource", "version_id"], name="resource_version_unique")]
        indexes = [
            models.Index(fields=["last_updated", "id"], name="version_system_history"),
            models.Index(fields=["resource_type", "last_updated", "id"], name="version_type_history"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.logical_id}/_history/{self.version_id}"

    def as_stored(self) -> StoredVersion:
        return _stored_version(self, self.method)


def _stored_version(row: Resource | ResourceVersion, method: str) -> StoredVersion:
    return StoredVersion(
        resource_type=row.resource_type,
        logical_id=row.logical_id,
        version_id=row.version_id,
        last_updated=row.last_updated,
        content=row.content,
        method=method,
    )
