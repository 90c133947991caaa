"""RecordStore against real PostgreSQL: buckets, deletes, in-batch neighbours."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from consumers.seer.service.store import BUCKETS_TABLE, NewRecord, RecordStore

StacktraceFactory = Callable[..., str]
HashFactory = Callable[[str], str]


@pytest.fixture
def store(database_url: str) -> Iterator[RecordStore]:
    schema = f"seer_store_{uuid.uuid4().hex[:10]}"
    record_store = RecordStore(database_url, schema=schema, pool_size=2)
    record_store.open()
    yield record_store
    record_store.close()


def bucket_rows(database_url: str, store: RecordStore) -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(
        sql.Identifier(store.schema, BUCKETS_TABLE)
    )
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def new(
    group_id: int, project_id: int, trace: str, make_hash: HashFactory
) -> NewRecord:
    return NewRecord.build(
        group_id=group_id,
        project_id=project_id,
        hash=make_hash(f"{project_id}:{group_id}"),
        exception_type=None,
        stacktrace=trace,
    )


def test_open_is_idempotent(store: RecordStore) -> None:
    store.open()
    assert store.count() == 0


def test_insert_writes_bucket_rows(
    store: RecordStore,
    database_url: str,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    records = [new(1, 10, make_stacktrace("a"), make_hash)]
    store.insert_batch(records, 0.01)
    store.insert_batch(records, 0.01)
    assert store.count() == 1
    assert bucket_rows(database_url, store) == len(set(records[0].keys))


def test_duplicate_hash_in_batch_stored_once(
    store: RecordStore, make_stacktrace: StacktraceFactory, make_hash: HashFactory
) -> None:
    record = new(1, 10, make_stacktrace("a"), make_hash)
    neighbors = store.insert_batch([record, record], 0.01)
    assert neighbors == {}
    assert store.count() == 1


def test_later_record_neighbors_earlier(
    store: RecordStore, make_stacktrace: StacktraceFactory, make_hash: HashFactory
) -> None:
    trace = make_stacktrace("a")
    first, second, third = (new(i, 10, trace, make_hash) for i in (1, 2, 3))
    neighbors = store.insert_batch([first, second, third], 0.01)
    assert sorted(neighbors) == [2, 3]
    assert neighbors[3].hash == first.hash
    assert store.count() == 1


def test_threshold_zero_stores_near_records(
    store: RecordStore, make_stacktrace: StacktraceFactory, make_hash: HashFactory
) -> None:
    trace = make_stacktrace("a")
    other = "aError: another message\n" + trace.partition("\n")[2]
    neighbors = store.insert_batch(
        [new(1, 10, trace, make_hash), new(2, 10, other, make_hash)], 0.0
    )
    assert neighbors == {}
    assert store.count() == 2


def test_delete_project_removes_buckets(
    store: RecordStore,
    database_url: str,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    kept = new(1, 11, make_stacktrace("b"), make_hash)
    store.insert_batch([new(1, 10, make_stacktrace("a"), make_hash), kept], 0.01)
    assert store.delete_project(10) == 1
    assert store.count() == 1
    assert bucket_rows(database_url, store) == len(set(kept.keys))


def test_delete_hashes_removes_buckets(
    store: RecordStore,
    database_url: str,
    make_stacktrace: StacktraceFactory,
    make_hash: HashFactory,
) -> None:
    dropped = new(1, 10, make_stacktrace("a"), make_hash)
    store.insert_batch([dropped], 0.01)
    assert store.delete_hashes(11, [dropped.hash]) == 0
    assert store.delete_hashes(10, [dropped.hash]) == 1
    assert bucket_rows(database_url, store) == 0


def test_deleted_record_is_no_neighbor(
    store: RecordStore, make_stacktrace: StacktraceFactory, make_hash: HashFactory
) -> None:
    trace = make_stacktrace("a")
    first = new(1, 10, trace, make_hash)
    store.insert_batch([first], 0.01)
    store.delete_hashes(10, [first.hash])
    assert store.insert_batch([new(2, 10, trace, make_hash)], 0.01) == {}


def test_search_orders_nearest_first(
    store: RecordStore, make_stacktrace: StacktraceFactory, make_hash: HashFactory
) -> None:
    trace = make_stacktrace("a")
    frames = trace.partition("\n")[2]
    exact = new(1, 10, trace, make_hash)
    other_message = new(2, 10, f"aError: another message\n{frames}", make_hash)
    store.insert_batch([exact], 1.0)
    store.insert_batch([other_message], 0.0)
    query = new(3, 10, trace, make_hash)
    found = store.search(query, max_distance=0.1, k=5, insert_threshold=None)
    assert [n.hash for n in found] == [exact.hash, other_message.hash]
    assert found[0].distance <= found[1].distance
    assert store.count() == 2
