"""Seer's four similarity endpoints, on top of `RecordStore`.

Each method takes the decoded JSON body and returns the status and JSON
payload to send. Bad input gets a 400 response with the field errors, and
storage errors propagate, so the server responds 500.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from consumers.seer.service.store import NewRecord, RecordStore
from consumers.seer.service.validation import (
    RequestValidationError,
    parse_delete_by_hash_request,
    parse_grouping_records_request,
    parse_similar_issues_request,
)

logger = logging.getLogger(__name__)

# Seer's search radius for read-only similar-issues requests.
READ_ONLY_DISTANCE = 0.1


@dataclass(frozen=True)
class ApiResponse:
    status: int
    payload: dict[str, object]


def _invalid(endpoint: str, error: RequestValidationError) -> ApiResponse:
    logger.warning("Rejected invalid %s request: %s", endpoint, error)
    errors = [field.to_json() for field in error.errors]
    return ApiResponse(400, {"detail": str(error), "errors": errors})


def _unsuccessful(reason: str, project_ids: list[int]) -> ApiResponse:
    logger.warning("Grouping records failed for projects %s: %s", project_ids, reason)
    return ApiResponse(
        200, {"success": False, "groups_with_neighbor": {}, "reason": reason}
    )


class SeerApi:
    def __init__(self, store: RecordStore) -> None:
        self.store = store

    def grouping_records(self, body: object) -> ApiResponse:
        """Store a batch of records; report those that have a neighbour.

        `data` and `stacktrace_list` of different lengths, or a
        `group_id_list` that differs from the group ids in `data`, get
        `success: false` and store nothing.
        """
        try:
            request = parse_grouping_records_request(body)
        except RequestValidationError as error:
            return _invalid("grouping_records", error)
        project_ids = sorted({entry.project_id for entry in request.data})
        if len(request.data) != len(request.stacktrace_list):
            return _unsuccessful(
                f"data has {len(request.data)} entries but stacktrace_list has "
                f"{len(request.stacktrace_list)}",
                project_ids,
            )
        group_ids = [entry.group_id for entry in request.data]
        if request.group_id_list is not None and request.group_id_list != group_ids:
            return _unsuccessful(
                "group_id_list does not match the group ids in data", project_ids
            )
        records = [
            NewRecord.build(
                group_id=entry.group_id,
                project_id=entry.project_id,
                hash=entry.hash,
                exception_type=entry.exception_type,
                stacktrace=stacktrace,
            )
            for entry, stacktrace in zip(
                request.data, request.stacktrace_list, strict=True
            )
        ]
        neighbors = self.store.insert_batch(records, request.threshold)
        logger.debug(
            "Grouping records: %d received, %d with a neighbour, projects %s",
            len(records),
            len(neighbors),
            sorted({record.project_id for record in records}),
        )
        groups_with_neighbor = {
            str(group_id): {
                "parent_hash": neighbor.hash,
                "stacktrace_distance": neighbor.distance,
                "should_group": True,
            }
            for group_id, neighbor in neighbors.items()
        }
        return ApiResponse(
            200, {"success": True, "groups_with_neighbor": groups_with_neighbor}
        )

    def delete_project(self, project_id: int) -> ApiResponse:
        deleted = self.store.delete_project(project_id)
        logger.debug("Deleted %d records of project %d", deleted, project_id)
        return ApiResponse(200, {"success": True})

    def delete_by_hash(self, body: object) -> ApiResponse:
        try:
            request = parse_delete_by_hash_request(body)
        except RequestValidationError as error:
            return _invalid("delete_by_hash", error)
        deleted = self.store.delete_hashes(request.project_id, request.hash_list)
        logger.debug(
            "Deleted %d records by hash of project %d", deleted, request.project_id
        )
        return ApiResponse(200, {"success": True})

    def similar_issues(self, body: object) -> ApiResponse:
        """Return the nearest records; store the stacktrace unless one groups.

        Read-only requests search within `READ_ONLY_DISTANCE` and store
        nothing; others search within `threshold`, as Seer does.
        """
        try:
            request = parse_similar_issues_request(body)
        except RequestValidationError as error:
            return _invalid("similar_issues", error)
        record = NewRecord.build(
            group_id=0,
            project_id=request.project_id,
            hash=request.hash,
            exception_type=request.exception_type,
            stacktrace=request.stacktrace,
        )
        neighbors = self.store.search(
            record,
            max_distance=READ_ONLY_DISTANCE if request.read_only else request.threshold,
            k=request.k,
            insert_threshold=None if request.read_only else request.threshold,
        )
        responses = [
            {
                "parent_hash": neighbor.hash,
                "stacktrace_distance": neighbor.distance,
                "should_group": neighbor.distance <= request.threshold,
            }
            for neighbor in neighbors
        ]
        return ApiResponse(200, {"responses": responses})
