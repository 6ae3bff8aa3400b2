from federation.models.reindex import ReindexJob, ReindexStatus
from federation.models.resource import Resource, ResourceVersion, WriteMethod
from federation.models.search_definition import SearchParameterDefinition
from federation.models.search_index import (
    DateIndex,
    NumberIndex,
    QuantityIndex,
    ReferenceIndex,
    SearchIndex,
    StringIndex,
    TokenIndex,
    UriIndex,
)

__all__ = [
    "DateIndex",
    "NumberIndex",
    "QuantityIndex",
    "ReferenceIndex",
    "ReindexJob",
    "ReindexStatus",
    "Resource",
    "ResourceVersion",
    "SearchIndex",
    "SearchParameterDefinition",
    "StringIndex",
    "TokenIndex",
    "UriIndex",
    "WriteMethod",
]
