from __future__ import annotations

import msgpack
import pytest

from consumers.messages import (
    INVALID_BATCH_REASONS,
    MAX_ID,
    InvalidBatch,
    ProjectBatch,
    check_project_batch,
    check_run_id,
    decode_project_batch,
    encode_project_batch,
)


def test_round_trip_keeps_every_field() -> None:
    batch = ProjectBatch(
        run_id="run-1",
        project_id=7,
        cursor=120,
        cohort=(5, 7),
        cohort_index=1,
        skip_project_ids=(9,),
        attempt=2,
    )
    assert decode_project_batch(encode_project_batch(batch)) == batch


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xc1", "invalid_msgpack"),
        (msgpack.packb([1, 2]), "not_a_map"),
        (
            msgpack.packb({"v": 2, "run_id": "r", "project_id": 1}),
            "unsupported_version",
        ),
        (msgpack.packb({"v": 1, "project_id": 1}), "missing_field"),
        (msgpack.packb({"v": 1, "run_id": "r", "project_id": "1"}), "invalid_field"),
        (msgpack.packb({"v": 1, "run_id": "r", "project_id": True}), "invalid_field"),
        (
            msgpack.packb({"v": 1, "run_id": "r", "project_id": None}),
            "inconsistent_fields",
        ),
        (
            msgpack.packb({"v": 1, "run_id": "r", "project_id": 1, "extra": 1}),
            "invalid_field",
        ),
    ],
)
def test_decode_rejects_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidBatch) as info:
        decode_project_batch(raw)
    assert info.value.reason == reason
    # `dlq list --reason` accepts only the listed codes.
    assert reason in INVALID_BATCH_REASONS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\xc1\x00", "FormatError: payload is not valid msgpack"),
        (b"\x91" * 2000, "StackError: payload nests containers too deeply"),
        (b"\x01\x02", "ExtraData: unpack(b) received extra data."),
        (b"\xa3ab", "ValueError: Unpack failed: incomplete input"),
    ],
)
def test_invalid_msgpack_detail_explains(raw: bytes, expected: str) -> None:
    with pytest.raises(InvalidBatch) as info:
        decode_project_batch(raw)
    assert info.value.reason == "invalid_msgpack"
    assert info.value.detail.startswith(expected)
    assert raw[:16].hex(" ") in info.value.detail


def test_invalid_msgpack_detail_quotes_16_bytes() -> None:
    raw = b"\xc1" + bytes(range(40))
    with pytest.raises(InvalidBatch) as info:
        decode_project_batch(raw)
    assert info.value.detail.endswith(
        f"first bytes: {raw[:16].hex(' ')} ... (41 bytes)"
    )


def test_batch_key_differs_by_cursor() -> None:
    first = ProjectBatch(run_id="r", project_id=1)
    assert first.batch_key != first.replace(cursor=10).batch_key
    assert first.batch_key == ProjectBatch(run_id="r", project_id=1).batch_key


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"project_id": 2**63}, "invalid_field"),
        ({"project_id": 0}, "invalid_field"),
        ({"cursor": -1}, "invalid_field"),
        ({"run_id": "a\x00b"}, "invalid_field"),
        ({"run_id": "r" * 201}, "invalid_field"),
        ({"cohort": [1] * 10_001, "project_id": 1}, "invalid_field"),
    ],
)
def test_decode_rejects_out_of_range(fields: dict[str, object], reason: str) -> None:
    message = {"v": 1, "run_id": "r", "project_id": 1, **fields}
    with pytest.raises(InvalidBatch) as info:
        decode_project_batch(msgpack.packb(message))
    assert info.value.reason == reason
    assert reason in INVALID_BATCH_REASONS


def test_decode_rejects_oversized_message() -> None:
    raw = msgpack.packb({"v": 1, "run_id": "r", "project_id": 1, "pad": "x" * 300_000})
    with pytest.raises(InvalidBatch) as info:
        decode_project_batch(raw)
    assert info.value.reason == "message_too_large"


def test_split_chain_round_trip_and_keys() -> None:
    chain = ProjectBatch(run_id="r", project_id=4, cursor=90, min_group_id=50, chains=3)
    assert decode_project_batch(encode_project_batch(chain)) == chain
    assert chain.key() == b"4:50"
    # A chain that ended on a full batch requests one more batch at its
    # floor, which is the start cursor of the chain below, so their keys
    # must differ.
    below = chain.replace(cursor=50, min_group_id=20)
    ended_above = chain.replace(cursor=50)
    assert below.batch_key != ended_above.batch_key
    assert (
        chain.batch_key != ProjectBatch(run_id="r", project_id=4, cursor=90).batch_key
    )


def test_unsplit_message_omits_split_fields() -> None:
    # Consumers that predate split chains reject unknown fields.
    unpacked = msgpack.unpackb(
        encode_project_batch(ProjectBatch(run_id="r", project_id=4))
    )
    assert "min_group_id" not in unpacked
    assert "chains" not in unpacked


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"chains": 0}, "chains 0 must be >= 1"),
        ({"chains": 2}, "'min_group_id' must be set exactly when"),
        ({"min_group_id": 5}, "'min_group_id' must be set exactly when"),
        (
            {"min_group_id": 5, "chains": 2, "cohort": [1, 2]},
            "must be a single project's backfill",
        ),
        (
            {"min_group_id": 5, "chains": 2, "only_delete": True},
            "must be a single project's backfill",
        ),
        (
            {"min_group_id": 5, "chains": 2, "cursor": 4},
            "cursor 4 is below min_group_id 5",
        ),
    ],
)
def test_decode_rejects_inconsistent_split(
    fields: dict[str, object], detail: str
) -> None:
    message = {"v": 1, "run_id": "r", "project_id": 1, **fields}
    with pytest.raises(InvalidBatch) as info:
        decode_project_batch(msgpack.packb(message))
    assert detail in info.value.detail
    assert info.value.reason in INVALID_BATCH_REASONS


def test_split_chain_may_end_at_its_floor() -> None:
    message = {"v": 1, "run_id": "r", "project_id": 1, "cursor": 5}
    message.update(min_group_id=5, chains=2)
    assert decode_project_batch(msgpack.packb(message)).cursor == 5


@pytest.mark.parametrize(
    ("run_id", "detail"),
    [
        ("", "field 'run_id' must have 1 to 200 characters"),
        ("r" * 201, "field 'run_id' must have 1 to 200 characters"),
        ("run\tone", "field 'run_id' must not contain control characters"),
        ("run\u2028one", "field 'run_id' must not contain control characters"),
    ],
)
def test_check_run_id_rejects(run_id: str, detail: str) -> None:
    with pytest.raises(InvalidBatch) as info:
        check_run_id(run_id)
    assert info.value.reason == "invalid_field"
    assert info.value.detail == detail


@pytest.mark.parametrize("run_id", ["r", "r" * 200, "Lauf über 9 Tage"])
def test_check_run_id_accepts(run_id: str) -> None:
    check_run_id(run_id)


@pytest.mark.parametrize(
    ("batch", "detail"),
    [
        (
            ProjectBatch(run_id="r", project_id=MAX_ID + 1),
            f"field 'project_id' value {MAX_ID + 1} is outside 0..{MAX_ID}",
        ),
        (
            ProjectBatch(run_id="r", project_id=2**64),
            f"an integer field is outside 0..{MAX_ID}: Integer value out of range",
        ),
        (ProjectBatch(run_id="r", project_id=0), "project ids must be >= 1"),
        (
            ProjectBatch(run_id="r", project_id=1, skip_project_ids=(1,) * 10_001),
            "field 'skip_project_ids' has 10001 items, over 10000",
        ),
    ],
)
def test_check_project_batch_rejects(batch: ProjectBatch, detail: str) -> None:
    with pytest.raises(InvalidBatch) as info:
        check_project_batch(batch)
    assert info.value.detail == detail


def test_check_project_batch_accepts_limits() -> None:
    check_project_batch(
        ProjectBatch(
            run_id="r" * 200,
            project_id=MAX_ID,
            cohort=(MAX_ID,),
            skip_project_ids=tuple(range(1, 10_001)),
        )
    )
