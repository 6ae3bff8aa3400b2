from federation.models.identity import (
    BlockingKey,
    IdentityAction,
    IdentityDecision,
    LinkQueue,
    LinkRule,
    MatchReview,
    Person,
    PersonRecord,
    ReviewStatus,
)
from federation.models.reindex import ReindexJob, ReindexStatus
from federation.models.resource import PLACEMENT_FIELDS, Resource, ResourceVersion, WriteMethod
from federation.models.search_definition import SearchParameterDefinition
from federation.models.search_index import (
    INDEX_TABLES,
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
    "INDEX_TABLES",
    "PLACEMENT_FIELDS",
    "BlockingKey",
    "DateIndex",
    "IdentityAction",
    "IdentityDecision",
    "LinkQueue",
    "LinkRule",
    "MatchReview",
    "NumberIndex",
    "Person",
    "PersonRecord",
    "QuantityIndex",
    "ReferenceIndex",
    "ReindexJob",
    "ReindexStatus",
    "Resource",
    "ResourceVersion",
    "ReviewStatus",
    "SearchIndex",
    "SearchParameterDefinition",
    "StringIndex",
    "TokenIndex",
    "UriIndex",
    "WriteMethod",
]
