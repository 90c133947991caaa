"""Parsing Seer's response bodies, including ones no real Seer sends."""

from __future__ import annotations

import pytest

from consumers.seer.errors import SeerInvalidResponse, SeerRejected
from consumers.seer.responses import (
    parse_grouping_records_response,
    parse_similar_issues_response,
    parse_success_response,
)
from consumers.seer.types import SimilarIssue

PATH = "/v0/issues/similar-issues/grouping-record"
NEIGHBOR = b'{"parent_hash": "ab", "stacktrace_distance": 0.005, "should_group": true}'


def test_grouping_response_neighbors() -> None:
    body = b'{"success": true, "groups_with_neighbor": {"7": ' + NEIGHBOR + b"}}"
    response = parse_grouping_records_response(
        body, group_ids={7, 8}, endpoint=PATH, attempts=1
    )
    assert response.groups_with_neighbor == {
        7: SimilarIssue(parent_hash="ab", stacktrace_distance=0.005, should_group=True)
    }


def test_grouping_response_without_neighbors_key() -> None:
    response = parse_grouping_records_response(
        b'{"success": true}', group_ids={7}, endpoint=PATH, attempts=1
    )
    assert response.groups_with_neighbor == {}


def test_unsuccessful_raises_rejected() -> None:
    body = b'{"success": false, "reason": "length mismatch"}'
    with pytest.raises(SeerRejected, match="length mismatch") as caught:
        parse_grouping_records_response(body, group_ids={7}, endpoint=PATH, attempts=2)
    assert caught.value.status_code == 200
    assert caught.value.attempts == 2


@pytest.mark.parametrize(
    "body",
    [
        b"<html>gateway</html>",
        b"[]",
        b'{"groups_with_neighbor": {}}',
        b'{"success": "yes"}',
        b'{"success": true, "groups_with_neighbor": []}',
        b'{"success": true, "groups_with_neighbor": {"x": {}}}',
        b'{"success": true, "groups_with_neighbor": {"9": ' + NEIGHBOR + b"}}",
        b'{"success": true, "groups_with_neighbor": {"7": {"parent_hash": 1}}}',
    ],
)
def test_grouping_response_invalid(body: bytes) -> None:
    with pytest.raises(SeerInvalidResponse):
        parse_grouping_records_response(body, group_ids={7}, endpoint=PATH, attempts=1)


def test_success_response() -> None:
    parse_success_response(b'{"success": true}', endpoint=PATH, attempts=1)


def test_success_false_rejected() -> None:
    with pytest.raises(SeerRejected):
        parse_success_response(b'{"success": false}', endpoint=PATH, attempts=1)


def test_similar_issues_response() -> None:
    body = b'{"responses": [' + NEIGHBOR + b"]}"
    issues = parse_similar_issues_response(body, endpoint=PATH, attempts=1)
    assert [issue.parent_hash for issue in issues] == ["ab"]


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'{"responses": [{"parent_hash": "a", "stacktrace_distance": true,'
        b' "should_group": true}]}',
        b'{"responses": [{"parent_hash": "a", "stacktrace_distance": NaN,'
        b' "should_group": true}]}',
    ],
)
def test_similar_issues_invalid(body: bytes) -> None:
    with pytest.raises(SeerInvalidResponse):
        parse_similar_issues_response(body, endpoint=PATH, attempts=1)
