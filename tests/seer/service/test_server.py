"""The Seer-compatible service over raw HTTP: routes, validation, auth, faults."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from consumers.seer.service import FaultConfig, SeerService
from consumers.seer.signing import authorization_value

ServiceFactory = Callable[..., SeerService]
StacktraceFactory = Callable[..., str]
HashFactory = Callable[[str], str]

GROUPING = "/v0/issues/similar-issues/grouping-record"
DELETE_BY_HASH = "/v0/issues/similar-issues/grouping-record/delete-by-hash"
SIMILAR = "/v0/issues/similar-issues"
JSON = {"content-type": "application/json;charset=utf-8"}


@pytest.fixture
def http(service: SeerService) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=5.0) as client:
        yield client


def grouping_body(
    make_stacktrace: StacktraceFactory, make_hash: HashFactory, count: int = 2
) -> dict[str, Any]:
    return {
        "group_id_list": list(range(1, count + 1)),
        "data": [
            {
                "group_id": group_id,
                "hash": make_hash(str(group_id)),
                "project_id": 10,
                "exception_type": "ValueError",
            }
            for group_id in range(1, count + 1)
        ],
        "stacktrace_list": [
            make_stacktrace(f"trace{group_id}") for group_id in range(1, count + 1)
        ],
        "use_reranking": False,
    }


def error_locations(response: httpx.Response) -> list[list[object]]:
    return [error["loc"] for error in response.json()["errors"]]


def test_grouping_records_success(
    http: httpx.Client,
    service: SeerService,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    response = http.post(
        GROUPING, json=grouping_body(make_stacktrace, make_hash), headers=JSON
    )
    assert response.status_code == 200
    assert response.json() == {"success": True, "groups_with_neighbor": {}}
    assert service.stats().records == 2


def test_length_mismatch_is_unsuccessful(
    http: httpx.Client,
    service: SeerService,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    body = grouping_body(make_stacktrace, make_hash)
    body["stacktrace_list"].pop()
    response = http.post(GROUPING, json=body, headers=JSON)
    assert response.status_code == 200
    assert response.json()["success"] is False
    assert response.json()["groups_with_neighbor"] == {}
    assert service.stats().records == 0


def test_group_id_list_mismatch_is_unsuccessful(
    http: httpx.Client,
    service: SeerService,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    body = grouping_body(make_stacktrace, make_hash)
    body["group_id_list"] = [1, 3]
    response = http.post(GROUPING, json=body, headers=JSON)
    assert response.status_code == 200
    assert response.json()["success"] is False
    assert service.stats().records == 0


@pytest.mark.parametrize(
    ("field", "value", "location"),
    [
        ("hash", "ABCDEF", ["data", 0, "hash"]),
        ("hash", "g" * 32, ["data", 0, "hash"]),
        ("group_id", "5", ["data", 0, "group_id"]),
        ("group_id", True, ["data", 0, "group_id"]),
        ("project_id", 1.5, ["data", 0, "project_id"]),
        ("project_id", 0, ["data", 0, "project_id"]),
        ("exception_type", 7, ["data", 0, "exception_type"]),
    ],
)
def test_invalid_record_field(
    http: httpx.Client,
    service: SeerService,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
    field: str,
    value: object,
    location: list[object],
) -> None:
    body = grouping_body(make_stacktrace, make_hash)
    body["data"][0][field] = value
    response = http.post(GROUPING, json=body, headers=JSON)
    assert response.status_code == 400
    assert error_locations(response) == [location]
    assert service.stats().records == 0


@pytest.mark.parametrize("stacktrace", ["", "   \n", None])
def test_blank_stacktrace_rejected(
    http: httpx.Client,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
    stacktrace: str | None,
) -> None:
    body = grouping_body(make_stacktrace, make_hash)
    body["stacktrace_list"][1] = stacktrace
    response = http.post(GROUPING, json=body, headers=JSON)
    assert response.status_code == 400
    assert error_locations(response) == [["stacktrace_list", 1]]


def test_missing_fields_reported_once(http: httpx.Client) -> None:
    response = http.post(GROUPING, json={"data": [{}]}, headers=JSON)
    assert response.status_code == 400
    assert error_locations(response) == [
        ["data", 0, "group_id"],
        ["data", 0, "hash"],
        ["data", 0, "project_id"],
        ["stacktrace_list"],
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [("use_reranking", "yes"), ("data", {}), ("stacktrace_list", "trace")],
)
def test_invalid_top_level_type(
    http: httpx.Client,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
    field: str,
    value: object,
) -> None:
    body = grouping_body(make_stacktrace, make_hash)
    body[field] = value
    response = http.post(GROUPING, json=body, headers=JSON)
    assert response.status_code == 400
    assert error_locations(response) == [[field]]


def test_body_not_object_rejected(http: httpx.Client) -> None:
    response = http.post(GROUPING, json=[1, 2], headers=JSON)
    assert response.status_code == 400
    assert error_locations(response) == [[]]


def test_invalid_json_rejected(http: httpx.Client) -> None:
    response = http.post(GROUPING, content=b"{not json", headers=JSON)
    assert response.status_code == 400
    assert "Invalid JSON" in response.json()["detail"]


def test_wrong_content_type_rejected(http: httpx.Client) -> None:
    response = http.post(
        GROUPING, content=b"{}", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415


def test_unknown_path_is_404(http: httpx.Client) -> None:
    assert http.get("/v0/unknown").status_code == 404
    assert http.get(f"{GROUPING}/delete/abc").status_code == 404


def test_wrong_method_is_405(http: httpx.Client) -> None:
    assert http.get(GROUPING).status_code == 405
    assert http.post(f"{GROUPING}/delete/5", headers=JSON).status_code == 405


def test_delete_by_hash_validates_hashes(http: httpx.Client) -> None:
    body = {"project_id": 10, "hash_list": ["a" * 32, "short"]}
    response = http.post(DELETE_BY_HASH, json=body, headers=JSON)
    assert response.status_code == 400
    assert error_locations(response) == [["hash_list", 1]]


def test_similar_issues_validates_fields(http: httpx.Client) -> None:
    body = {"project_id": 10, "stacktrace": "", "hash": "a" * 32, "k": 0}
    response = http.post(SIMILAR, json=body, headers=JSON)
    assert response.status_code == 400
    assert error_locations(response) == [["stacktrace"], ["k"]]


def test_signature_required_when_secret_set(
    make_service: ServiceFactory,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    service = make_service(secret="shared-secret")
    body = json.dumps(grouping_body(make_stacktrace, make_hash)).encode()
    signed = {**JSON, "Authorization": authorization_value("shared-secret", body)}
    forged = {**JSON, "Authorization": authorization_value("other", body)}
    with httpx.Client(base_url=service.url) as http:
        assert http.post(GROUPING, content=body, headers=JSON).status_code == 401
        assert http.post(GROUPING, content=body, headers=forged).status_code == 401
        assert http.post(GROUPING, content=body, headers=signed).status_code == 200
        assert http.get("/health/live").status_code == 200


def test_admin_faults_switch_errors(http: httpx.Client) -> None:
    response = http.post("/_admin/faults", json={"error_rate": 1, "error_status": 502})
    assert response.status_code == 200
    assert response.json()["faults"]["error_status"] == 502
    assert http.get(f"{GROUPING}/delete/5").status_code == 502
    assert http.post("/_admin/faults", json={"error_rate": 0}).status_code == 200
    assert http.get(f"{GROUPING}/delete/5").status_code == 200


@pytest.mark.parametrize(
    "changes",
    [{"error_rate": 2}, {"latency_ms": True}, {"unknown": 1}, {"overload": "drop"}],
)
def test_admin_faults_rejects_invalid(
    http: httpx.Client, changes: dict[str, object]
) -> None:
    assert http.post("/_admin/faults", json=changes).status_code == 400


def test_admin_stats_counts_and_reset(http: httpx.Client) -> None:
    http.get(f"{GROUPING}/delete/5")
    http.get(f"{GROUPING}/delete/5")
    stats = http.get("/_admin/stats").json()
    assert stats["requests"]["delete_project"] == {"200": 2}
    assert stats["records"] == 0
    assert stats["max_per_second"] == 2
    reset = http.post("/_admin/stats/reset").json()
    assert reset["requests"] == {}
    assert reset["max_per_second"] == 0


def test_fault_after_phase_stores_records(
    make_service: ServiceFactory,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    faults = FaultConfig(fail_next=1, error_status=503, fault_phase="after")
    service = make_service(faults=faults)
    body = grouping_body(make_stacktrace, make_hash)
    with httpx.Client(base_url=service.url) as http:
        assert http.post(GROUPING, json=body, headers=JSON).status_code == 503
    assert service.stats().records == 2


def test_overload_reject_returns_503(make_service: ServiceFactory) -> None:
    faults = FaultConfig(latency_ms=300, max_concurrency=1, overload="reject")
    service = make_service(faults=faults)
    statuses: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        with httpx.Client(base_url=service.url, timeout=5.0) as http:
            status = http.get(f"{GROUPING}/delete/5").status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses).count(200) >= 1
    assert sorted(statuses).count(503) >= 1


def test_overload_wait_serialises(make_service: ServiceFactory) -> None:
    faults = FaultConfig(latency_ms=100, max_concurrency=1, overload="wait")
    service = make_service(faults=faults)

    def call() -> None:
        with httpx.Client(base_url=service.url, timeout=5.0) as http:
            assert http.get(f"{GROUPING}/delete/5").status_code == 200

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # A client can read its response before the server has counted it.
    assert service.counters.wait_idle(timeout_seconds=5.0)
    assert service.stats().count("delete_project", 200) == 3


def test_body_over_limit_is_413(make_service: ServiceFactory) -> None:
    service = make_service(max_body_bytes=100)
    with httpx.Client(base_url=service.url) as http:
        response = http.post(GROUPING, content=b"x" * 200, headers=JSON)
    assert response.status_code == 413
