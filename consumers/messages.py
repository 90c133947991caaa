"""The project-batch message (schema version 1): its type, encoder and decoder.

A project-batch message asks the consumer to backfill one batch of one
project's groups. It is a msgpack map keyed on the topic by the project id
(decimal string). `decode_project_batch` raises `InvalidBatch` with a reason
for every malformed message; the decode stage turns that into Arroyo's
`InvalidMessage` so the raw message lands on the dead-letter topic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack

SCHEMA_VERSION = 1

# Limits that keep a valid-looking message from failing later stages: ids
# must fit PostgreSQL's bigint, and the next batch (which repeats the cohort)
# must fit the topic's max.message.bytes of 1 MiB.
MAX_ID = 2**63 - 1
MAX_MESSAGE_BYTES = 256 * 1024
MAX_LIST_ITEMS = 10_000
MAX_RUN_ID_CHARS = 200

# Leading payload bytes quoted in an `invalid_msgpack` detail, in hex.
MAX_QUOTED_BYTES = 16


# Every `InvalidBatch.reason` that decoding raises.
INVALID_BATCH_REASONS = (
    "message_too_large",
    "invalid_msgpack",
    "not_a_map",
    "unsupported_version",
    "missing_field",
    "invalid_field",
    "inconsistent_fields",
)


class InvalidBatch(ValueError):
    """A project-batch message that cannot be processed; `reason` is a stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ProjectBatch:
    """One request to backfill the next batch of a project (or of a worker cohort)."""

    run_id: str
    project_id: int | None
    cursor: int | None = None
    cohort: tuple[int, ...] | None = None
    cohort_index: int = 0
    only_delete: bool = False
    enable_ingestion: bool = False
    skip_processed_projects: bool = True
    skip_project_ids: tuple[int, ...] = ()
    worker_number: int | None = None
    total_workers: int | None = None
    last_project_id: int | None = None
    attempt: int = 0
    # A project split into `chains` chains over disjoint ranges of group ids:
    # this chain covers ids from `min_group_id` (inclusive) up to its start.
    min_group_id: int | None = None
    chains: int = 1
    v: int = SCHEMA_VERSION

    @property
    def is_worker_mode(self) -> bool:
        return self.worker_number is not None and self.total_workers is not None

    @property
    def is_split(self) -> bool:
        """True for one of several chains that share a project's groups."""
        return self.min_group_id is not None

    @property
    def batch_key(self) -> str:
        """Idempotency key: equal for every copy of the same logical batch."""
        mode = "delete" if self.only_delete else "backfill"
        cursor = "start" if self.cursor is None else str(self.cursor)
        if self.project_id is None:
            scope = (
                f"worker:{self.worker_number}/{self.total_workers}"
                f":after:{self.last_project_id}"
            )
        else:
            scope = f"project:{self.project_id}"
        if self.min_group_id is not None:
            # Chains of one project start at different cursors, but a chain
            # that ends on a full batch requests one more batch at its floor,
            # which is the start cursor of the chain below it.
            scope += f":floor:{self.min_group_id}"
        return f"{self.run_id}:{mode}:{scope}:cursor:{cursor}"

    def key(self) -> bytes:
        """Kafka message key: the project id (with the floor of a split
        chain, so that a project's chains spread over partitions), or the
        worker cohort in worker mode."""
        if self.project_id is not None and self.min_group_id is not None:
            return f"{self.project_id}:{self.min_group_id}".encode("ascii")
        if self.project_id is not None:
            return str(self.project_id).encode("ascii")
        return f"worker-{self.worker_number}".encode("ascii")

    def replace(self, **changes: Any) -> ProjectBatch:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("cohort", "skip_project_ids"):
            if data[name] is not None:
                data[name] = list(data[name])
        # The split fields appear only on split chains, so a message of an
        # unsplit chain stays readable by consumers that predate them.
        if self.min_group_id is None and self.chains == 1:
            del data["min_group_id"], data["chains"]
        return data


def encode_project_batch(batch: ProjectBatch) -> bytes:
    encoded: bytes = msgpack.packb(batch.to_dict(), use_bin_type=True)
    return encoded


@dataclass(frozen=True)
class _Field:
    name: str
    kind: type
    nullable: bool
    required: bool
    is_list: bool = False


_FIELDS: tuple[_Field, ...] = (
    _Field("v", int, nullable=False, required=True),
    _Field("run_id", str, nullable=False, required=True),
    _Field("project_id", int, nullable=True, required=True),
    _Field("cursor", int, nullable=True, required=False),
    _Field("cohort", int, nullable=True, required=False, is_list=True),
    _Field("cohort_index", int, nullable=False, required=False),
    _Field("only_delete", bool, nullable=False, required=False),
    _Field("enable_ingestion", bool, nullable=False, required=False),
    _Field("skip_processed_projects", bool, nullable=False, required=False),
    _Field("skip_project_ids", int, nullable=False, required=False, is_list=True),
    _Field("worker_number", int, nullable=True, required=False),
    _Field("total_workers", int, nullable=True, required=False),
    _Field("last_project_id", int, nullable=True, required=False),
    _Field("attempt", int, nullable=False, required=False),
    _Field("min_group_id", int, nullable=True, required=False),
    _Field("chains", int, nullable=False, required=False),
)


def _check_type(spec: _Field, value: Any) -> None:
    if value is None:
        if not spec.nullable:
            raise InvalidBatch("invalid_field", f"field {spec.name!r} must not be null")
        return
    items = value if spec.is_list else [value]
    if spec.is_list and not isinstance(value, list):
        raise InvalidBatch(
            "invalid_field",
            f"field {spec.name!r} must be a list, got {type(value).__name__}",
        )
    if spec.is_list and len(items) > MAX_LIST_ITEMS:
        raise InvalidBatch(
            "invalid_field",
            f"field {spec.name!r} has {len(items)} items, over {MAX_LIST_ITEMS}",
        )
    for item in items:
        # bool is a subclass of int; a flag is never a valid id or counter.
        wrong_bool = spec.kind is int and isinstance(item, bool)
        if wrong_bool or not isinstance(item, spec.kind):
            raise InvalidBatch(
                "invalid_field",
                f"field {spec.name!r} must be {spec.kind.__name__}"
                f"{' items' if spec.is_list else ''}, got {type(item).__name__}",
            )
        if isinstance(item, int) and not 0 <= item <= MAX_ID:
            raise InvalidBatch(
                "invalid_field",
                f"field {spec.name!r} value {item} is outside 0..{MAX_ID}",
            )


def _msgpack_error_detail(error: ValueError, raw: bytes) -> str:
    """Describe why `raw` did not unpack, quoting its first bytes in hex."""
    # msgpack raises FormatError and StackError with an empty message.
    if isinstance(error, msgpack.FormatError):
        description = "payload is not valid msgpack (reserved or unknown type byte)"
    elif isinstance(error, msgpack.StackError):
        description = "payload nests containers too deeply to unpack"
    else:
        description = str(error) or "payload is not valid msgpack"
    quoted = raw[:MAX_QUOTED_BYTES].hex(" ")
    if len(raw) > MAX_QUOTED_BYTES:
        quoted += f" ... ({len(raw)} bytes)"
    return f"{type(error).__name__}: {description}; first bytes: {quoted or '(empty)'}"


def decode_project_batch(raw: bytes) -> ProjectBatch:
    """Decode and validate one project-batch message.

    Raises `InvalidBatch` with reason `message_too_large`, `invalid_msgpack`,
    `not_a_map`, `unsupported_version`, `missing_field`, `invalid_field` or
    `inconsistent_fields`. Unknown keys are rejected, because a producer that
    sends them expects behaviour this consumer does not have.
    """
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InvalidBatch(
            "message_too_large",
            f"{len(raw)} bytes is over the limit of {MAX_MESSAGE_BYTES}",
        )
    try:
        data = msgpack.unpackb(raw, raw=False, strict_map_key=True)
    except (
        ValueError,
        msgpack.ExtraData,
        msgpack.FormatError,
        msgpack.StackError,
    ) as e:
        raise InvalidBatch("invalid_msgpack", _msgpack_error_detail(e, raw)) from e
    if not isinstance(data, Mapping):
        raise InvalidBatch(
            "not_a_map", f"expected a msgpack map, got {type(data).__name__}"
        )

    version = data.get("v")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise InvalidBatch(
            "unsupported_version",
            f"schema version {version!r} is not supported (expected {SCHEMA_VERSION})",
        )
    known = {spec.name for spec in _FIELDS}
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise InvalidBatch("invalid_field", f"unknown fields: {', '.join(unknown)}")

    values: dict[str, Any] = {}
    for spec in _FIELDS:
        if spec.name not in data:
            if spec.required:
                raise InvalidBatch("missing_field", f"field {spec.name!r} is required")
            continue
        value = data[spec.name]
        _check_type(spec, value)
        if spec.is_list and value is not None:
            value = tuple(value)
        values[spec.name] = value
    if values.get("skip_project_ids") is None:
        values.pop("skip_project_ids", None)

    batch = ProjectBatch(**values)
    _check_consistency(batch)
    return batch


def check_run_id(run_id: str) -> None:
    """Raise `InvalidBatch` for a run id that the consumer rejects.

    A valid run id has 1 to `MAX_RUN_ID_CHARS` characters and no control
    characters.
    """
    if not run_id or len(run_id) > MAX_RUN_ID_CHARS:
        raise InvalidBatch(
            "invalid_field",
            f"field 'run_id' must have 1 to {MAX_RUN_ID_CHARS} characters",
        )
    if not run_id.isprintable():
        raise InvalidBatch(
            "invalid_field", "field 'run_id' must not contain control characters"
        )


def check_project_batch(batch: ProjectBatch) -> None:
    """Raise `InvalidBatch` when the consumer would reject `batch`.

    Encodes and decodes the batch, so that a producer applies every rule of
    `decode_project_batch`.
    """
    try:
        encoded = encode_project_batch(batch)
    except OverflowError as e:
        # msgpack encodes integers from -2**63 to 2**64 - 1 only.
        raise InvalidBatch(
            "invalid_field", f"an integer field is outside 0..{MAX_ID}: {e}"
        ) from e
    decode_project_batch(encoded)


def _check_consistency(batch: ProjectBatch) -> None:
    check_run_id(batch.run_id)
    ids = [batch.project_id, *(batch.cohort or ()), *batch.skip_project_ids]
    if any(project_id is not None and project_id < 1 for project_id in ids):
        raise InvalidBatch("invalid_field", "project ids must be >= 1")
    if batch.attempt < 0 or batch.cohort_index < 0:
        raise InvalidBatch("invalid_field", "'attempt' and 'cohort_index' must be >= 0")
    if batch.cursor is not None and batch.cursor < 0:
        raise InvalidBatch("invalid_field", f"cursor {batch.cursor} must be >= 0")
    _check_split(batch)
    if (batch.worker_number is None) != (batch.total_workers is None):
        raise InvalidBatch(
            "inconsistent_fields",
            "'worker_number' and 'total_workers' must be set together",
        )
    if batch.is_worker_mode:
        assert batch.worker_number is not None and batch.total_workers is not None
        if (
            batch.total_workers < 1
            or not 0 <= batch.worker_number < batch.total_workers
        ):
            raise InvalidBatch(
                "inconsistent_fields",
                f"worker_number {batch.worker_number} is outside "
                f"0..{batch.total_workers - 1}",
            )
    elif batch.project_id is None:
        raise InvalidBatch(
            "inconsistent_fields", "'project_id' may be null only in worker mode"
        )
    if batch.cohort is not None and batch.project_id is not None:
        if not batch.cohort_index < len(batch.cohort):
            raise InvalidBatch(
                "inconsistent_fields",
                f"cohort_index {batch.cohort_index} is outside the cohort "
                f"of {len(batch.cohort)} projects",
            )
        if batch.cohort[batch.cohort_index] != batch.project_id:
            raise InvalidBatch(
                "inconsistent_fields",
                f"cohort[{batch.cohort_index}] is {batch.cohort[batch.cohort_index]}, "
                f"not project_id {batch.project_id}",
            )


def _check_split(batch: ProjectBatch) -> None:
    """Reject split fields outside a plain project chain, or a cursor below floor."""
    if batch.chains < 1:
        raise InvalidBatch("invalid_field", f"chains {batch.chains} must be >= 1")
    if (batch.chains > 1) != (batch.min_group_id is not None):
        raise InvalidBatch(
            "inconsistent_fields",
            "'min_group_id' must be set exactly when 'chains' is over 1",
        )
    if batch.min_group_id is None:
        return
    if (
        batch.project_id is None
        or batch.cohort is not None
        or batch.worker_number is not None
        or batch.only_delete
    ):
        raise InvalidBatch(
            "inconsistent_fields",
            "a split chain ('min_group_id' set) must be a single project's "
            "backfill: no cohort, no worker mode, not only_delete",
        )
    if batch.cursor is not None and batch.cursor < batch.min_group_id:
        raise InvalidBatch(
            "inconsistent_fields",
            f"cursor {batch.cursor} is below min_group_id {batch.min_group_id}",
        )
