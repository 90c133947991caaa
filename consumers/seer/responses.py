"""Parsers from Seer's 2xx response bodies to the client's typed records.

Each parser raises `SeerRejected` when Seer returned `success: false`, and
`SeerInvalidResponse` when the body is not the JSON shape Seer's API defines.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from typing import Any

from consumers.seer.errors import SeerInvalidResponse, SeerRejected, excerpt
from consumers.seer.types import GroupingRecordsResponse, SimilarIssue


def _load_object(body: bytes, endpoint: str, attempts: int) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError as error:
        raise _invalid(
            f"body is not JSON ({error})", body, endpoint, attempts
        ) from None
    if not isinstance(value, dict):
        raise _invalid("body is not a JSON object", body, endpoint, attempts)
    return value


def _invalid(
    reason: str, body: bytes, endpoint: str, attempts: int
) -> SeerInvalidResponse:
    body_excerpt = excerpt(body)
    return SeerInvalidResponse(
        f"Invalid response from Seer {endpoint}: {reason}: {body_excerpt}",
        endpoint=endpoint,
        status_code=200,
        body_excerpt=body_excerpt,
        attempts=attempts,
    )


def _check_success(
    value: dict[str, Any], body: bytes, endpoint: str, attempts: int
) -> None:
    success = value.get("success")
    if not isinstance(success, bool):
        raise _invalid(
            "`success` is missing or not a boolean", body, endpoint, attempts
        )
    if not success:
        reason = value.get("reason")
        detail = f": {reason}" if isinstance(reason, str) and reason else ""
        body_excerpt = excerpt(body)
        raise SeerRejected(
            f"Seer {endpoint} returned success: false{detail}",
            endpoint=endpoint,
            status_code=200,
            body_excerpt=body_excerpt,
            attempts=attempts,
        )


def _similar_issue(
    value: object, body: bytes, endpoint: str, attempts: int
) -> SimilarIssue:
    if not isinstance(value, dict):
        raise _invalid("a neighbour is not a JSON object", body, endpoint, attempts)
    parent_hash = value.get("parent_hash")
    distance = value.get("stacktrace_distance")
    should_group = value.get("should_group")
    if not isinstance(parent_hash, str):
        raise _invalid("`parent_hash` is not a string", body, endpoint, attempts)
    if (
        isinstance(distance, bool)
        or not isinstance(distance, int | float)
        or not math.isfinite(distance)
    ):
        raise _invalid(
            "`stacktrace_distance` is not a number", body, endpoint, attempts
        )
    if not isinstance(should_group, bool):
        raise _invalid("`should_group` is not a boolean", body, endpoint, attempts)
    return SimilarIssue(
        parent_hash=parent_hash,
        stacktrace_distance=float(distance),
        should_group=should_group,
    )


def parse_success_response(body: bytes, *, endpoint: str, attempts: int) -> None:
    """Check a `{success: bool}` body, as the delete endpoints send."""
    value = _load_object(body, endpoint, attempts)
    _check_success(value, body, endpoint, attempts)


def parse_grouping_records_response(
    body: bytes, *, group_ids: Collection[int], endpoint: str, attempts: int
) -> GroupingRecordsResponse:
    """Parse the bulk insert's body; every neighbour key must be a sent group id."""
    value = _load_object(body, endpoint, attempts)
    _check_success(value, body, endpoint, attempts)
    raw_neighbors = value.get("groups_with_neighbor", {})
    if not isinstance(raw_neighbors, dict):
        raise _invalid(
            "`groups_with_neighbor` is not an object", body, endpoint, attempts
        )
    neighbors: dict[int, SimilarIssue] = {}
    for key, raw in raw_neighbors.items():
        try:
            group_id = int(key)
        except ValueError:
            raise _invalid(
                f"group id {key!r} is not an integer", body, endpoint, attempts
            ) from None
        if group_id not in group_ids:
            raise _invalid(
                f"group id {group_id} was not in the request", body, endpoint, attempts
            )
        neighbors[group_id] = _similar_issue(raw, body, endpoint, attempts)
    return GroupingRecordsResponse(groups_with_neighbor=neighbors)


def parse_similar_issues_response(
    body: bytes, *, endpoint: str, attempts: int
) -> list[SimilarIssue]:
    """Parse the `{responses: [...]}` body of the similar-issues endpoint."""
    value = _load_object(body, endpoint, attempts)
    responses = value.get("responses")
    if not isinstance(responses, list):
        raise _invalid("`responses` is missing or not a list", body, endpoint, attempts)
    return [_similar_issue(item, body, endpoint, attempts) for item in responses]
