"""Request body validation of the Seer-compatible service."""

from __future__ import annotations

import math

import pytest

from consumers.seer.service.validation import (
    RequestValidationError,
    parse_delete_by_hash_request,
    parse_grouping_records_request,
    parse_similar_issues_request,
)

HASH = "0123456789abcdef0123456789abcdef"


def locations(error: RequestValidationError) -> list[tuple[str | int, ...]]:
    return [field.location for field in error.errors]


def test_grouping_defaults() -> None:
    body = {
        "data": [{"group_id": 1, "hash": HASH, "project_id": 2}],
        "stacktrace_list": ["trace"],
    }
    request = parse_grouping_records_request(body)
    assert request.group_id_list is None
    assert request.use_reranking is False
    assert request.threshold == 0.01
    assert request.data[0].exception_type is None


def test_grouping_ignores_unknown_keys() -> None:
    body = {"data": [], "stacktrace_list": [], "encode_stacktrace_batch_size": 4}
    assert parse_grouping_records_request(body).data == []


def test_grouping_rejects_nan_threshold() -> None:
    body = {"data": [], "stacktrace_list": [], "threshold": math.nan}
    with pytest.raises(RequestValidationError) as caught:
        parse_grouping_records_request(body)
    assert locations(caught.value) == [("threshold",)]


def test_grouping_rejects_id_beyond_int64() -> None:
    body = {
        "data": [{"group_id": 2**63, "hash": HASH, "project_id": 2}],
        "stacktrace_list": ["trace"],
    }
    with pytest.raises(RequestValidationError) as caught:
        parse_grouping_records_request(body)
    assert locations(caught.value) == [("data", 0, "group_id")]


def test_delete_by_hash_accepts_empty_list() -> None:
    request = parse_delete_by_hash_request({"project_id": 3, "hash_list": []})
    assert request.hash_list == []


def test_similar_issues_defaults() -> None:
    request = parse_similar_issues_request(
        {"project_id": 1, "stacktrace": "trace", "hash": HASH}
    )
    assert request.k == 1
    assert request.threshold == 0.01
    assert request.read_only is False


@pytest.mark.parametrize(
    ("field", "value"),
    [("k", 101), ("k", 1.0), ("threshold", -0.1), ("read_only", 1), ("hash", None)],
)
def test_similar_issues_rejects(field: str, value: object) -> None:
    body: dict[str, object] = {"project_id": 1, "stacktrace": "trace", "hash": HASH}
    body[field] = value
    with pytest.raises(RequestValidationError) as caught:
        parse_similar_issues_request(body)
    assert locations(caught.value) == [(field,)]


def test_error_message_names_fields() -> None:
    with pytest.raises(RequestValidationError, match=r"project_id: field required"):
        parse_delete_by_hash_request({"hash_list": []})
