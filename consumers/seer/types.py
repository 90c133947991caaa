"""Seer's similarity API: endpoint paths, JSON shapes and typed records.

The JSON shapes (TypedDicts) are what goes over the wire; the dataclasses
are what `SeerClient` takes and returns. Seer's model version is the `v0`
path segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NotRequired, TypedDict

GROUPING_RECORDS_PATH = "/v0/issues/similar-issues/grouping-record"
DELETE_PROJECT_PATH_PREFIX = "/v0/issues/similar-issues/grouping-record/delete/"
DELETE_BY_HASH_PATH = "/v0/issues/similar-issues/grouping-record/delete-by-hash"
SIMILAR_ISSUES_PATH = "/v0/issues/similar-issues"

# Seer's default cosine distance under which two stacktraces group together.
GROUPING_DISTANCE = 0.01


@dataclass(frozen=True)
class Endpoint:
    """One Seer request: a fixed metric name, the HTTP method and the path."""

    name: str
    method: str
    path: str


GROUPING_RECORDS = Endpoint("grouping_records", "POST", GROUPING_RECORDS_PATH)
DELETE_BY_HASH = Endpoint("delete_by_hash", "POST", DELETE_BY_HASH_PATH)
SIMILAR_ISSUES = Endpoint("similar_issues", "POST", SIMILAR_ISSUES_PATH)


def delete_project_endpoint(project_id: int) -> Endpoint:
    path = f"{DELETE_PROJECT_PATH_PREFIX}{project_id}"
    return Endpoint("delete_project", "GET", path)


@dataclass(frozen=True)
class GroupingRecord:
    """One group to store in Seer: its primary hash and stacktrace string."""

    group_id: int
    hash: str
    project_id: int
    exception_type: str | None
    stacktrace: str


@dataclass(frozen=True)
class SimilarIssue:
    """A stored record near a request's stacktrace (Seer's `GroupingResponse`)."""

    parent_hash: str
    stacktrace_distance: float
    should_group: bool


@dataclass(frozen=True)
class GroupingRecordsResponse:
    """Seer's response to a bulk insert that it accepted (`success: true`).

    `groups_with_neighbor` maps the group id of each record that Seer did not
    store to the existing record it lies near.
    """

    groups_with_neighbor: dict[int, SimilarIssue]


class GroupingRecordDataJson(TypedDict):
    group_id: int
    hash: str
    project_id: int
    exception_type: str | None


class GroupingRecordsRequestJson(TypedDict):
    group_id_list: list[int]
    data: list[GroupingRecordDataJson]
    stacktrace_list: list[str]
    use_reranking: bool


class SimilarIssueJson(TypedDict):
    parent_hash: str
    stacktrace_distance: float
    should_group: bool


class GroupingRecordsResponseJson(TypedDict):
    success: bool
    groups_with_neighbor: NotRequired[dict[str, SimilarIssueJson]]
    reason: NotRequired[str]


class DeleteByHashRequestJson(TypedDict):
    project_id: int
    hash_list: list[str]


class SimilarIssuesRequestJson(TypedDict):
    project_id: int
    stacktrace: str
    hash: str
    exception_type: str | None
    k: int
    threshold: float
    read_only: bool
    use_reranking: bool


class SimilarIssuesResponseJson(TypedDict):
    responses: list[SimilarIssueJson]
