"""_source and _profile, searched on the resource row's content (meta.source, meta.profile), not on index rows.

Nearly every resource has both (ingest sets meta.source; JP Core shapes name their profile). As uri rows they
were a tenth of the index rows an ingest wrote, each a table row and two B-tree entries; read from the content
they cost one entry of the `resource_source` B-tree and one of the `resource_profile` GIN index a resource
(federation.models.resource, migration 0019). They match as any uri parameter does (federation.search.uris);
`:below` on _profile reads each candidate's profiles: no index serves a prefix inside a JSON array.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import BooleanField, Expression, Func, Q, TextField, Value
from django.db.models.lookups import IsNull

from federation.models.resource import MetaProfiles, MetaSource
from federation.search.uris import uri_match, uri_parent, uri_prefixes_above

META_PARAMETERS = frozenset({"_source", "_profile"})


def meta_filter(code: str, modifier: str | None, uri: str) -> Q:
    """Resources whose meta.source (or one of whose meta.profile) matches `uri` (unescaped) under `modifier`."""
    if code == "_source":
        return uri_match(MetaSource(), modifier, uri)
    if modifier == "below":
        below = "jsonb_path_exists({profiles}, '$[*] ? (@ == $uri || @ starts with $parent)', {value}::jsonb)"
        return Q(_ProfilesMatch(below, json.dumps({"uri": uri, "parent": uri_parent(uri)})))
    if modifier == "above":
        return Q(_ProfilesMatch("{profiles} ?| {value}::text[]", uri_prefixes_above(uri)))
    return Q(_ProfilesMatch("{profiles} @> {value}::jsonb", json.dumps([uri])))


def meta_present(code: str) -> Q:
    """Resources that have a meta.source (or a meta.profile)."""
    return Q(IsNull(MetaSource() if code == "_source" else MetaProfiles(), False))


def meta_sort_key(code: str, *, descending: bool) -> Expression:
    """What `_sort` orders by: the source, or the greatest profile descending and the least ascending."""
    if code == "_source":
        return MetaSource()
    return Func(MetaProfiles(), template=_PROFILE_SORT[descending], output_field=TextField())


_PROFILE_SORT = {
    False: "(SELECT min(profile) FROM jsonb_array_elements_text(%(expressions)s) AS profile)",
    True: "(SELECT max(profile) FROM jsonb_array_elements_text(%(expressions)s) AS profile)",
}


class _ProfilesMatch(Func):
    """A condition on the resource's profiles and one bound value: `pattern`, with {profiles} and {value} in it."""

    output_field = BooleanField()

    def __init__(self, pattern: str, value: Any) -> None:
        super().__init__(MetaProfiles(), Value(value))
        self.pattern = pattern

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, list[Any]]:
        (profiles, profile_params), (value, value_params) = (
            compiler.compile(expression) for expression in self.get_source_expressions()
        )
        return self.pattern.format(profiles=profiles, value=value), [*profile_params, *value_params]
