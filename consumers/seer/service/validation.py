"""Strict validation of the local Seer service's request bodies.

Seer validates bodies with pydantic models and responds 400 with the error
list when one fails. This module checks the same fields and types. It is
stricter where the backfill must not send bad data:

- types are never coerced (`"5"` is not an integer, `true` not a number);
- hashes must be 32 lowercase hex digits (Seer accepts any string);
- ids must be positive 64-bit integers;
- stacktraces must not be blank (Seer checks this for similar-issues only).

Unknown keys are ignored, as pydantic does by default.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Protocol, TypeVar

from consumers.seer.types import GROUPING_DISTANCE

HASH_PATTERN = re.compile(r"[0-9a-f]{32}")
MAX_ID = 2**63 - 1
MAX_K = 100

Location = tuple[str | int, ...]
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class FieldError:
    location: Location
    message: str

    def to_json(self) -> dict[str, object]:
        return {"loc": list(self.location), "msg": self.message}


class RequestValidationError(Exception):
    """A request body that does not match the endpoint's schema."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        summary = "; ".join(
            f"{'.'.join(map(str, error.location)) or 'body'}: {error.message}"
            for error in errors[:5]
        )
        super().__init__(f"{len(errors)} invalid field(s): {summary}")


@dataclass(frozen=True)
class RecordData:
    group_id: int
    hash: str
    project_id: int
    exception_type: str | None


@dataclass(frozen=True)
class GroupingRecordsRequest:
    """The bulk insert. `group_id_list` is None when the client omitted it."""

    data: list[RecordData]
    stacktrace_list: list[str]
    group_id_list: list[int] | None
    use_reranking: bool
    threshold: float
    k: int


@dataclass(frozen=True)
class DeleteByHashRequest:
    project_id: int
    hash_list: list[str]


@dataclass(frozen=True)
class SimilarIssuesRequest:
    project_id: int
    stacktrace: str
    hash: str
    exception_type: str | None
    k: int
    threshold: float
    read_only: bool
    use_reranking: bool


class _ItemReader(Protocol[T_co]):
    def __call__(self, value: object, location: Location, /) -> T_co: ...


_REQUIRED = object()


class _Checker:
    """Reads typed fields out of JSON values and collects every error.

    Each reader returns a placeholder after recording an error, so one pass
    reports all invalid fields. The placeholders never leave this module,
    because `done` raises when any error was recorded.
    """

    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        self._muted = False

    def fail(self, location: Location, message: str) -> None:
        if not self._muted:
            self.errors.append(FieldError(location, message))

    def done(self) -> None:
        if self.errors:
            raise RequestValidationError(self.errors)

    def field(
        self,
        parent: dict[str, object],
        key: str,
        location: Location,
        reader: _ItemReader[T],
        default: object = _REQUIRED,
    ) -> T:
        """Read `parent[key]` with `reader`; a missing key takes `default`."""
        path = (*location, key)
        if key in parent:
            return reader(parent[key], path)
        if default is not _REQUIRED:
            return reader(default, path)
        self.fail(path, "field required")
        self._muted = True
        try:
            return reader(None, path)
        finally:
            self._muted = False

    def json_object(self, value: object, location: Location) -> dict[str, object]:
        if isinstance(value, dict):
            return value
        self.fail(location, "must be a JSON object")
        return {}

    def identifier(self, value: object, location: Location) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(location, "must be an integer")
            return 0
        if not 1 <= value <= MAX_ID:
            self.fail(location, f"must be between 1 and {MAX_ID}")
        return value

    def hash(self, value: object, location: Location) -> str:
        if not isinstance(value, str):
            self.fail(location, "must be a string")
            return ""
        if not HASH_PATTERN.fullmatch(value):
            self.fail(location, "must be 32 lowercase hex digits")
        return value

    def stacktrace(self, value: object, location: Location) -> str:
        if not isinstance(value, str):
            self.fail(location, "must be a string")
            return ""
        if not value.strip():
            self.fail(location, "must be provided and not empty")
        return value

    def optional_string(self, value: object, location: Location) -> str | None:
        if value is None or isinstance(value, str):
            return value
        self.fail(location, "must be a string or null")
        return None

    def boolean(self, value: object, location: Location) -> bool:
        if isinstance(value, bool):
            return value
        self.fail(location, "must be a boolean")
        return False

    def k(self, value: object, location: Location) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(location, "must be an integer")
            return 1
        if not 1 <= value <= MAX_K:
            self.fail(location, f"must be between 1 and {MAX_K}")
        return value

    def threshold(self, value: object, location: Location) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(location, "must be a number")
            return GROUPING_DISTANCE
        if math.isnan(value) or not 0.0 <= value <= 2.0:
            self.fail(location, "must be a cosine distance between 0 and 2")
        return float(value)

    def list_of(self, reader: _ItemReader[T]) -> _ItemReader[list[T]]:
        """Return a reader of a JSON list whose items `reader` reads."""

        def read(value: object, location: Location) -> list[T]:
            if not isinstance(value, list):
                self.fail(location, "must be a list")
                return []
            return [
                reader(item, (*location, index)) for index, item in enumerate(value)
            ]

        return read

    def record_data(self, value: object, location: Location) -> RecordData:
        if not isinstance(value, dict):
            self.fail(location, "must be a JSON object")
            return RecordData(0, "", 0, None)
        return RecordData(
            group_id=self.field(value, "group_id", location, self.identifier),
            hash=self.field(value, "hash", location, self.hash),
            project_id=self.field(value, "project_id", location, self.identifier),
            exception_type=self.field(
                value, "exception_type", location, self.optional_string, None
            ),
        )


def _root(checker: _Checker, body: object) -> dict[str, object]:
    """Return the body as an object, or raise at once: no field can be read."""
    root = checker.json_object(body, ())
    checker.done()
    return root


def parse_grouping_records_request(body: object) -> GroupingRecordsRequest:
    """Validate the bulk insert body; raise `RequestValidationError`.

    Length mismatches between `data`, `stacktrace_list` and `group_id_list`
    are not validation errors, because Seer responds to them with
    `success: false`.
    """
    checker = _Checker()
    root = _root(checker, body)
    group_id_list: list[int] | None = None
    if root.get("group_id_list") is not None:
        group_id_list = checker.field(
            root, "group_id_list", (), checker.list_of(checker.identifier)
        )
    request = GroupingRecordsRequest(
        data=checker.field(root, "data", (), checker.list_of(checker.record_data)),
        stacktrace_list=checker.field(
            root, "stacktrace_list", (), checker.list_of(checker.stacktrace)
        ),
        group_id_list=group_id_list,
        use_reranking=checker.field(root, "use_reranking", (), checker.boolean, False),
        threshold=checker.field(
            root, "threshold", (), checker.threshold, GROUPING_DISTANCE
        ),
        k=checker.field(root, "k", (), checker.k, 1),
    )
    checker.done()
    return request


def parse_delete_by_hash_request(body: object) -> DeleteByHashRequest:
    """Validate the delete-by-hash body; raise `RequestValidationError`."""
    checker = _Checker()
    root = _root(checker, body)
    request = DeleteByHashRequest(
        project_id=checker.field(root, "project_id", (), checker.identifier),
        hash_list=checker.field(root, "hash_list", (), checker.list_of(checker.hash)),
    )
    checker.done()
    return request


def parse_similar_issues_request(body: object) -> SimilarIssuesRequest:
    """Validate the similar-issues body; raise `RequestValidationError`."""
    checker = _Checker()
    root = _root(checker, body)
    request = SimilarIssuesRequest(
        project_id=checker.field(root, "project_id", (), checker.identifier),
        stacktrace=checker.field(root, "stacktrace", (), checker.stacktrace),
        hash=checker.field(root, "hash", (), checker.hash),
        exception_type=checker.field(
            root, "exception_type", (), checker.optional_string, None
        ),
        k=checker.field(root, "k", (), checker.k, 1),
        threshold=checker.field(
            root, "threshold", (), checker.threshold, GROUPING_DISTANCE
        ),
        read_only=checker.field(root, "read_only", (), checker.boolean, False),
        use_reranking=checker.field(root, "use_reranking", (), checker.boolean, False),
    )
    checker.done()
    return request
